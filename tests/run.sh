#!/bin/sh
# Runs every test program of a build tree and prints one closing line:
# "N passed, N failed". Each program's output goes to BUILD/test-logs/NAME.log;
# a failing one has its last lines printed.
#
#   sh tests/run.sh build        # or build/san
#   TESTS="test_reducer it_ingest" sh tests/run.sh build   # a subset
set -u
B=${1:-build}
LOGS="$B/test-logs"
mkdir -p "$LOGS"
export CX_BIN="$PWD/$B/bin"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed=0
failures=""

run_one() { # name, command...
    name=$1; shift
    start=$(date +%s)
    if "$@" >"$LOGS/$name.log" 2>&1; then
        passed=$((passed + 1)); status=ok
    else
        failed=$((failed + 1)); status=FAIL; failures="$failures $name"
    fi
    # A sanitizer report fails the run even if the program exited 0.
    if grep -qE '^(==[0-9]+==ERROR: |SUMMARY: (Address|Undefined|Leak)Sanitizer|.*runtime error: )' "$LOGS/$name.log"; then
        [ $status = ok ] && { passed=$((passed - 1)); failed=$((failed + 1)); failures="$failures $name"; }
        status="FAIL (sanitizer report)"
    fi
    echo "$(printf '%-28s' "$name") $status ($(( $(date +%s) - start ))s)  $(grep -E '\[  PASSED  \]|\[  FAILED  \]|passed|lost' "$LOGS/$name.log" | tail -n 1)"
    case $status in FAIL*) tail -n 25 "$LOGS/$name.log" | sed 's/^/    | /';; esac
}

selected() { [ -z "${TESTS:-}" ] && return 0; for sel in $TESTS; do [ "$sel" = "$1" ] && return 0; done; return 1; }

for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue; n=$(basename "$t"); selected "$n" || continue
    run_one "$n" "$t"
done
for t in "$B"/tests/it_*; do
    [ -x "$t" ] || continue; n=$(basename "$t"); selected "$n" || continue
    run_one "$n" "$t"
done
if [ -x "$B/tests/crash_trials" ] && selected crash_trials; then
    run_one crash_trials "$B/tests/crash_trials" --bin "$B/bin" --trials 3
fi
# Fuzz targets: a short smoke run each on their seed corpus (make fuzz runs longer).
if [ "$B" = build ] && [ -z "${TESTS:-}" ]; then
    for f in build/fuzz/fuzz_*; do
        [ -x "$f" ] || continue; n=$(basename "$f")
        mkdir -p "build/fuzz/corpus/$n"
        run_one "$n" "$f" -runs=20000 -max_total_time=20 "build/fuzz/corpus/$n" "tests/fuzz/corpus/$n"
    done
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
