#!/usr/bin/env bash
# End-to-end smoke of tickgate-load: start the real gateway on free ports, run a few clients for
# two seconds, and check from the JSON result that updates were delivered with no gaps and no
# disconnects. Usage: smoke.sh TICKGATE_BINARY TICKGATE_LOAD_BINARY
set -euo pipefail
gateway_bin=$1
load_bin=$2
work=$(mktemp -d)
gateway_pid=
cleanup() {
    if [[ -n $gateway_pid ]]; then kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

"$gateway_bin" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --state-dir "$work/state" --symbols 10 --rate 500 \
    2> "$work/gateway.log" &
gateway_pid=$!
url=
for _ in $(seq 100); do
    url=$(grep -o 'wss://127\.0\.0\.1:[0-9]*/ws' "$work/gateway.log" | head -n1 || true)
    [[ -n $url ]] && break
    kill -0 "$gateway_pid" 2>/dev/null || { echo "tickgate exited:"; cat "$work/gateway.log"; exit 1; }
    sleep 0.1
done
[[ -n $url ]] || { echo "tickgate did not report its address:"; cat "$work/gateway.log"; exit 1; }

"$load_bin" --url "$url" --connections 8 --per-connection 3 --threads 2 --duration 2 --warmup 0.3 \
    --pid "$gateway_pid" --label smoke --out "$work/result.json"

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
