#!/bin/sh
# demo.sh - cxbroker end to end in a minute: who receives what, and why.
#
#   sh tests/demo.sh build        (what `make demo` runs)
#
# Starts BUILD/bin/cxbroker on config/cxbroker.yaml (its partners acme-insurance,
# swift-car-rental and brand-crm, and its travel routes), but on a copy in a temp
# folder whose storage and sockets live in that folder: ./var is never touched and
# no TCP port is taken. One cxsub per partner writes its deliveries to a file.
# Then two customers act, with cxpub: ana sets a travel goal, grants consent for
# travel, updates her profile and goal, and books her flights; ben does the same
# without ever granting consent. The demo prints one line per delivery (partner,
# route, event type, customer, and the context fields the partner got), and
# `cxctl partners`. It stops only the processes it started, by PID, and removes
# the temp folder.
set -u

B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
BIN=$B/bin
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=$ROOT/config/cxbroker.yaml
PARTNERS="acme-insurance swift-car-rental brand-crm"
EXPECTED=5 # deliveries the story below makes (see the summary at the end)

for p in cxbroker cxpub cxsub cxctl; do
    if [ ! -x "$BIN/$p" ]; then
        echo "demo: $BIN/$p not found: build first (make)" >&2
        exit 1
    fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/cxdemo.XXXXXX") || exit 1
PIDS=""
cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null; done
    for pid in $PIDS; do wait "$pid" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PUB=ipc://$T/pub.sock
DELIVER=ipc://$T/deliver.sock
ADMIN=ipc://$T/admin.sock

# ---- the broker, on a copy of the config that keeps everything in $T ----
# Relative paths in the config resolve against its folder, i.e. $T.
sed -e 's|^\(  publish:\).*|\1 ipc://pub.sock|' \
    -e 's|^\(  deliver:\).*|\1 ipc://deliver.sock|' \
    -e 's|^\(  admin:\).*|\1 ipc://admin.sock|' \
    -e 's|^\(  path:\).*|\1 data|' "$CONFIG" >"$T/cxbroker.yaml"
if grep -q '^[^#]*\(var/\|tcp://\)' "$T/cxbroker.yaml"; then
    echo "demo: could not move every path of $CONFIG into $T:" >&2
    grep -n '^[^#]*\(var/\|tcp://\)' "$T/cxbroker.yaml" >&2
    exit 1
fi
"$BIN/cxbroker" --check-config "$T/cxbroker.yaml" || exit 1

echo "== cxbroker on a copy of config/cxbroker.yaml in $T"
"$BIN/cxbroker" -c "$T/cxbroker.yaml" 2>"$T/broker.log" &
BROKER=$!
PIDS="$PIDS $BROKER"
tries=0
until "$BIN/cxctl" -a "$ADMIN" -t 1 stats >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ $tries -ge 10 ] || ! kill -0 "$BROKER" 2>/dev/null; then
        echo "demo: the broker did not start; its log:" >&2
        cat "$T/broker.log" >&2
        exit 1
    fi
    sleep 1
done

# ---- one partner adapter per partner ----
for p in $PARTNERS; do
    "$BIN/cxsub" -b "$DELIVER" -p "$p" >"$T/$p.out" 2>"$T/$p.err" &
    PIDS="$PIDS $!"
done
echo "== cxsub started for: $PARTNERS"

# ---- the story ----
# Deadlines as microseconds since the epoch (cxpub also takes RFC 3339); the
# seconds come from awk's srand(), which POSIX defines as the time of day.
NOW=$(awk 'BEGIN { srand(); print srand() }')
DEADLINE=$(((NOW + 20 * 86400) * 1000000)) # 20 days away: within both travel routes' windows

run() { # prints the command (as you would type it), then runs it
    line='$'
    for a in "$@"; do
        case $a in *[!A-Za-z0-9_./:=@+-]*) a="'$a'" ;; esac
        line="$line $a"
    done
    printf '\n%s\n' "$line" | sed "s|$BIN/||; s|$T|\$T|g"
    "$@"
}

echo
echo "== 1. ana sets a travel goal (flags). No consent yet: only brand-crm's consent-free route may carry it."
run "$BIN/cxpub" -b "$PUB" --type goal.set --customer ana \
    --payload "{\"goal_id\":\"g1\",\"category\":\"travel\",\"title\":\"Lisbon in June\",\"deadline\":$DEADLINE,\"target\":3}" ||
    exit 1

echo
echo "== 2. ana grants consent to the travel category (flags)."
run "$BIN/cxpub" -b "$PUB" --type consent.granted --customer ana --payload '{"scope":"travel"}' || exit 1

echo
echo "== 3. JSON lines: ana's profile, goal update and booked flights; ben, who never consents, does the same."
cat >"$T/events.jsonl" <<EOF
{"customer_id":"ana","type":"profile.updated","profile":{"set":[{"key":"home_city","value":"Porto"},{"key":"email","value":"ana@example.com"}]}}
{"customer_id":"ana","type":"goal.updated","goal":{"goal_id":"g1","title":"Lisbon in June, two people"}}
{"customer_id":"ana","type":"milestone.reached","milestone":{"goal_id":"g1","name":"flights-booked"}}
{"customer_id":"ben","type":"goal.set","goal":{"goal_id":"g1","category":"travel","title":"Madeira","deadline":$DEADLINE}}
{"customer_id":"ben","type":"milestone.reached","milestone":{"goal_id":"g1","name":"flights-booked"}}
EOF
sed 's/^/    /' "$T/events.jsonl"
run "$BIN/cxpub" -b "$PUB" -s demo <"$T/events.jsonl" || exit 1

# ---- wait for the deliveries (at most 10 s) ----
tries=0
while [ $tries -lt 10 ]; do
    sleep 1 # also lets anything beyond the expected show
    got=$(cat "$T"/*.out | wc -l)
    [ "$got" -ge $EXPECTED ] && break
    tries=$((tries + 1))
done
got=$(cat "$T"/*.out | wc -l)

# ---- who received what ----
echo
echo "== who received what ($got deliveries)"
# One cxsub line: {"seq":N,"partner":..,"route":..,"event":{..},"context":{..}}.
# Prints partner, route, event type, customer, then the context's top-level
# fields (with the attribute keys and whether goals carry milestones).
AWK='
function val(key, s,   v) {
    if (!match(s, "\"" key "\":\"[^\"]*\"")) return "-"
    v = substr(s, RSTART, RLENGTH)
    sub("^\"" key "\":\"", "", v)
    sub("\"$", "", v)
    return v
}
function keys(s,   i, c, d, ins, esc, start, out) {
    d = 0; ins = 0; esc = 0; out = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (ins) {
            if (esc) esc = 0
            else if (c == "\\") esc = 1
            else if (c == "\"") {
                ins = 0
                if (d == 1 && substr(s, i + 1, 1) == ":")
                    out = out (out == "" ? "" : " ") substr(s, start, i - start)
            }
            continue
        }
        if (c == "\"") { ins = 1; start = i + 1 }
        else if (c == "{" || c == "[") d++
        else if (c == "}" || c == "]") d--
    }
    return out
}
{
    ev = $0; sub(/^.*"event":/, "", ev); sub(/,"context":.*$/, "", ev)
    ctx = $0; sub(/^.*"context":/, "", ctx)
    fields = keys(ctx)
    attrs = ""; rest = ctx
    while (match(rest, /"key":"[^"]*"/)) {
        a = substr(rest, RSTART + 7, RLENGTH - 8)
        attrs = attrs (attrs == "" ? "" : ",") a
        rest = substr(rest, RSTART + RLENGTH)
    }
    if (attrs != "") sub(/attributes/, "attributes(" attrs ")", fields)
    if (index(ctx, "\"milestones\":")) sub(/goals/, "goals(+milestones)", fields)
    printf "%-17s %-23s %-18s %-9s %s\n", val("partner", $0), val("route", $0), val("type", ev), val("customer_id", ev), fields
}'
printf '%-17s %-23s %-18s %-9s %s\n' PARTNER ROUTE EVENT CUSTOMER "CONTEXT FIELDS IT GOT"
for p in $PARTNERS; do
    awk "$AWK" "$T/$p.out"
done

echo
echo "== cxctl partners"
"$BIN/cxctl" -a "$ADMIN" partners

echo
echo "What happened:"
echo "  brand-crm got both customers' goal events: crm-goal-feed is consent: not-required."
echo "  swift-car-rental got ana's goal.updated (car-rental-before-trip) only after her consent;"
echo "    her earlier goal.set and all of ben's events needed consent they did not have."
echo "  acme-insurance got ana's flights-booked milestone (trip-insurance), with goals,"
echo "    milestones and only the home_city attribute, as its sees says; ben's went nowhere."
status=0
if [ "$got" -ne $EXPECTED ]; then
    echo "demo: expected $EXPECTED deliveries, got $got" >&2
    status=1
fi
exit $status
