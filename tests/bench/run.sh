#!/bin/sh
# run.sh - runs the benchmark program with the sizes of one mode; builds nothing.
#
#   sh tests/bench/run.sh BUILD_DIR short|full
#
# short (make bench) fits in a few minutes on 2 cores; full (make bench FULL=1)
# is the size docs/benchmarks.md reports for W1 (1M customers) and longer runs,
# and the spec's slow partner: p0 stalled 30 s inside a 45 s run (short: 6 s
# inside 12 s, each run done twice, with and without the stall).
# The table goes to stdout, progress lines to stderr, and rows are appended to
# BUILD_DIR/bench.csv (build/bench.csv for `make bench`).
set -eu
B=${1:-build}
MODE=${2:-short}
BENCH="$B/tests/bench"
if [ ! -x "$BENCH" ]; then
    echo "run.sh: $BENCH not built; run: make $BENCH $B/bin/cxbroker" >&2
    exit 2
fi
case "$MODE" in
short) ARGS="--events 300000 --customers 10000 --w1-customers 100000 --rate 20000 --duration 3"
       ARGS="$ARGS --stall 6 --slow-duration 12" ;;
full)  ARGS="--events 1000000 --customers 10000 --w1-customers 1000000 --rate 20000 --duration 10"
       ARGS="$ARGS --stall 30 --slow-duration 45" ;;
*) echo "run.sh: mode must be short or full, not '$MODE'" >&2; exit 2 ;;
esac
echo "bench: mode $MODE, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)" >&2
# shellcheck disable=SC2086
"$BENCH" --bin "$B/bin" --scenario all --mode "$MODE" --csv "$B/bench.csv" $ARGS
