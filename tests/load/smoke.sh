#!/usr/bin/env bash
# End-to-end smoke of tickgate-load: start the real gateway on free ports, run a few clients for
# two seconds, and check from the JSON result that updates were delivered with no gaps and no
# disconnects. Then the same with books and trades: every book message checked (prev_seq chain,
# checksum) with none failing, trades without gaps. Usage: smoke.sh TICKGATE_BINARY TICKGATE_LOAD_BINARY
set -euo pipefail
gateway_bin=$1
load_bin=$2
work=$(mktemp -d)
gateway_pid=
stop_gateway() {
    if [[ -n $gateway_pid ]]; then kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
    gateway_pid=
}
cleanup() {
    stop_gateway
    rm -rf "$work"
}
trap cleanup EXIT

# start_gateway NAME FLAGS...: sets gateway_pid and url
start_gateway() {
    local name=$1
    shift
    "$gateway_bin" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --state-dir "$work/state" "$@" \
        2> "$work/$name.gateway.log" &
    gateway_pid=$!
    url=
    for _ in $(seq 100); do
        url=$(grep -o 'wss://127\.0\.0\.1:[0-9]*/ws' "$work/$name.gateway.log" | head -n1 || true)
        [[ -n $url ]] && break
        kill -0 "$gateway_pid" 2>/dev/null || { echo "tickgate exited:"; cat "$work/$name.gateway.log"; exit 1; }
        sleep 0.1
    done
    [[ -n $url ]] || { echo "tickgate did not report its address:"; cat "$work/$name.gateway.log"; exit 1; }
}

start_gateway tickers --symbols 10 --rate 500
"$load_bin" --url "$url" --connections 8 --per-connection 3 --threads 2 --duration 2 --warmup 0.3 \
    --pid "$gateway_pid" --label smoke --out "$work/result.json"
stop_gateway

python3 - "$work/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
problems = []
if not r["ok"]: problems.append("run not ok: " + r["error"])
if r["messages"]["delivered"] <= 0: problems.append("nothing delivered")
if r["connections"]["established"] != 8: problems.append("established %d of 8" % r["connections"]["established"])
seq = r["seq"]["all"]
if seq["gaps"] or seq["duplicates"] or seq["reordered"]: problems.append("seq problems: %s" % seq)
if seq["snapshots"] < 8 * 3: problems.append("expected a snapshot per subscription, got %d" % seq["snapshots"])
if r["connections"]["disconnects"]["total"]: problems.append("disconnects: %s" % r["connections"]["disconnects"])
if r["targets"][0]["rss_end_kib"] <= 0: problems.append("gateway not sampled")
if problems:
    print("load smoke FAILED:", *problems, sep="\n  ")
    sys.exit(1)
print("load smoke ok: %d delivered, p99 %.3f ms" % (r["messages"]["delivered"], r["latency"]["normal"]["p99_ms"]))
PY

# Books and trades (the `books` scenario at small size: each client one book of each depth, two
# trade topics, two tickers), with two of the eight clients stalled.
start_gateway books --symbols 10 --rate 200 --book-rate 500 --trade-rate 100
"$load_bin" --url "$url" --connections 8 --draw 'book.*=1' --draw 'book50.*=1' --draw 'trade.*=2' --draw 'ticker.*=2' --threads 2 \
    --duration 2 --warmup 0.3 --slow-fraction 0.25 --slow-mode stall --pid "$gateway_pid" --label smoke-books \
    --out "$work/books.json"
stop_gateway

python3 - "$work/books.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
problems = []
if not r["ok"]: problems.append("run not ok: " + r["error"])
b, t = r["books"]["all"], r["trades"]
if b["snapshots"] < 8 * 2: problems.append("expected a book snapshot per book subscription, got %d" % b["snapshots"])
if b["messages"] <= b["snapshots"]: problems.append("no book deltas: %s" % b)
for k in ("chain_breaks", "checksum_failures", "unverified", "malformed", "depth_exceeded"):
    if b[k]: problems.append("books %s: %d" % (k, b[k]))
if t["normal"]["messages"] <= 0: problems.append("no trades")
if t["normal"]["gaps"] or t["all"]["duplicates"] or t["all"]["reordered"]: problems.append("trade problems: %s" % t)
if r["seq"]["normal"]["gaps"]: problems.append("ticker gaps: %s" % r["seq"]["normal"])
if r["messages"]["delivered_book_deltas"] <= 0 or r["messages"]["delivered_tickers"] <= 0:
    problems.append("delivered by kind: %s" % r["messages"])
if problems:
    print("load smoke (books) FAILED:", *problems, sep="\n  ")
    sys.exit(1)
print("load smoke (books) ok: %d book messages checked, %d trades, 0 breaks, 0 checksum failures"
      % (b["messages"], t["all"]["messages"]))
PY
