#!/usr/bin/env bash
# End-to-end smoke of the chat benchmark (bench/scenarios/chat.sh) on one gateway: 20 subscribers of
# chat.lobby for 2 s while the scenario's publisher sends 20 messages/s with its send time in data.
# Checks that tickgate-load measured publish-to-subscriber latency from that field (--latency-from
# sent_ns) for every delivered message, with no seq gap and every publish accepted.
# Usage: chat_smoke.sh BUILD_DIR (with tickgate and bench/load/tickgate-load in it)
set -euo pipefail
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
here=$(dirname "$0")
timeout 90 bash "$here/../../bench/scenarios/chat.sh" --build "$build" --out "$out" --variants single --rounds 1 \
    --duration 2 --connections 20 --rate 20 --connect-rate 0 > "$out/stdout" 2> "$out/stderr" || {
    cat "$out/stdout" "$out/stderr" >&2
    exit 1
}
/usr/bin/python3 - "$out/chat.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
run = d["rounds"][0]["single"]
s, load, pub = run["summary"], run["loads"][0], run["publisher"]
problems = []
if not s["ok"]: problems.append(f"run not ok: {json.dumps(s)[:500]}")
g = s["per_gateway"][0]
if g["subscribers"] != 20: problems.append(f"{g['subscribers']} subscribers connected, not 20")
if load["parameters"]["latency_from"] != "sent_ns": problems.append("latency not measured from sent_ns")
# 20 subscribers x 20/s x 2 s is 800; on a busy machine the publisher (which skips the slots it was
# late for) offers less, so the floor is a flow, not the rate: 5 messages a subscriber.
if g["latency_count"] < 100: problems.append(f"only {g['latency_count']} latencies measured (offered up to 800)")
if g["latency_count"] != load["messages"]["delivered"]: problems.append("not every delivered message was measured")
if g["latency_field_missing"]: problems.append(f"{g['latency_field_missing']} messages without sent_ns")
if g["gaps"] or g["duplicates"] or g["reordered"]: problems.append(f"seq: {g}")
if load["latency"]["all"]["negative"]: problems.append("negative latencies: sent_ns misread")
if pub["errors"] or pub["failure"]: problems.append(f"publisher: {pub['errors'][:2]} {pub['failure']}")
if pub["own_copies"] == 0: problems.append("the publisher got none of its own messages")
if problems:
    sys.exit("chat smoke failed:\n  " + "\n  ".join(problems))
print(f"chat smoke ok: {g['latency_count']} messages measured publish to subscriber, p50 {g['p50_ms']:.2f} ms, "
      f"p99 {g['p99_ms']:.2f} ms, 0 gaps")
PY
