#!/usr/bin/python3
"""The soak's 2-minute version (issue 19), with loose bounds: bench/scenarios/soak.py's mix at a
lower load against the real gateway on loopback, sampled every 10 s:

- 50 normal clients x 10 of 100 topics, feed 2,000 updates/s (10,000 msgs/s; at 2,000 updates/s
  the gateway's 65,536-update ring has filled, and its RSS settled, ~35 s in);
- 2 churning clients (tickgate-load --churn, run 50 ms of every second);
- 2 stalled clients (never read) per 25 s round, with --heartbeat-ms 5000 so the gateway closes
  them (3 silent heartbeats) within each round.

Asserts: no descriptor leak (the idle gateway's count after every client has gone equals the count
before the load; during it, descriptors - connections stays within a few of the post-warm-up
sample's), RSS within 10 % of the post-warm-up sample, 0 gaps and 0 errors (error messages,
disconnects, failed connections) for normal clients, the stalled clients closed by the gateway, and
a fresh client served (a live update and a pong) at the end. Prints a table; exits 1 if any failed.
Bounded: every step has a timeout (about 2.5 minutes in all). Binds 127.0.0.1 only.

Usage: soak_short.py --gateway PATH/tickgate --load PATH/tickgate-load [--keep DIR]
(or $TICKGATE_BIN and $TICKGATE_LOAD_BIN). Debian's python3 and the standard library only.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "support"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "scenarios"))
import soak  # noqa: E402
from raw_websocket import TEXT, frame, ping_op, read_until, served, upgrade  # noqa: E402

RSS_BOUND_PCT = 10
SETTINGS = ["--duration-min", "2", "--sample-s", "10", "--warmup-min", "0.5", "--clients", "50", "--rate", "2000",
            "--churners", "2", "--stalled", "2", "--stall-round-s", "25", "--gateway-arg=--heartbeat-ms=5000"]


def fresh_client(gw):
    """A client that connects after the soak: subscribed, it gets a live update of ticker.BTC-USD,
    and its ping is answered."""
    port = int(re.search(r":(\d+)/", gw.url).group(1))
    s = upgrade(port)
    try:
        s.settimeout(5)
        s.sendall(frame(TEXT, b'{"op":"subscribe","id":1,"topics":["ticker.BTC-USD"]}'))
        _, payload = read_until(s, lambda op, p: op == TEXT and json.loads(p).get("topic") == "ticker.BTC-USD" and
                                not json.loads(p).get("snapshot"))
        seq = json.loads(payload)["seq"]
        s.sendall(frame(TEXT, ping_op(7)))
        served(s, 7)
        return f"live update seq {seq}, pong"
    finally:
        s.close()


def judge(a, data):
    """[(case, ok, message)]: each message says what a user would notice."""
    s, n = data["summary"], data["normal"]
    rows = []
    load1 = [x["load1"] for x in data["samples"]]
    busy = f"load average {min(load1, default=0):.1f}-{max(load1, default=0):.1f} on {os.cpu_count()} cores"
    rows.append(("normal clients' load ran", bool(n.get("ok")),
                 f"tickgate-load could not run the normal clients: {n.get('error')}"))
    if n.get("ok"):
        errors = s["normal_error_messages"] + s["normal_disconnects"] + s["normal_failed_connections"]
        rows.append(("0 errors for normal clients", errors == 0,
                     f"{s['normal_disconnects']} disconnects, {s['normal_failed_connections']} refused or failed "
                     f"connections, {s['normal_error_messages']} error messages among {a.clients} well-behaved "
                     f"clients: users would be dropped or turned away while others churn and stall "
                     f"({n['connections']['disconnects']['by_code']})"))
        rows.append(("0 gaps for normal clients", s["normal_gaps"] == 0,
                     f"{s['normal_gaps']} seq gaps ({s['normal_missing']} updates missed) among well-behaved clients: "
                     f"users would see prices skip. The gateway shed {s.get('skipped_behind')} ticker updates for "
                     f"falling over 250 ms behind ({busy}; the simulator dropped {s.get('feed_dropped_late')} "
                     f"late)"))
    ref = s.get("reference_minute")
    rows.append(("a post-warm-up sample", ref is not None,
                 "no sample after the warm-up with the gateway's ring full: the soak ended early or the feed "
                 f"published too little ({busy})"))
    if ref is not None:
        rows.append((f"RSS within {RSS_BOUND_PCT} % of minute {ref:g}'s", s["rss_drift_pct"] <= RSS_BOUND_PCT,
                     f"the gateway's memory grew {s['rss_drift_pct']:.1f} % ({s['rss_ref_kib']} -> "
                     f"{s['rss_max_kib']} KiB) within {(s['rss_max_minute'] - ref) * 60:.0f} s at a constant load: "
                     "it would grow until the operator restarts it or the kernel kills it"))
        grown = s["own_fds_max"] - s["own_fds_ref"]
        margin = a.churners + a.stalled + a.fd_margin
        rows.append(("descriptors - connections steady", grown <= margin,
                     f"the gateway's descriptors beyond its connections grew by {grown} (> {margin}) after minute "
                     f"{ref:g}: a leak, after which it would refuse connections once out of descriptors"))
    before, after = s.get("idle_fds_before"), s.get("idle_fds_after")
    idle = data.get("idle_after", {})
    rows.append(("idle descriptors back to before the load", after is not None and after <= before,
                 f"with every client gone the gateway holds {after} descriptors against {before} before the load "
                 f"(added: {idle.get('kinds_added')}; TCP: {idle.get('tcp')}): each soak leaks descriptors, and a "
                 "long-running gateway would end up refusing connections"))
    closed = (s.get("stalled_closed_heartbeat") or 0) + (s.get("stalled_closed_slow_1008") or 0)
    opened = s.get("stalled_opened") or 0
    rows.append(("stalled clients closed by the gateway", opened > 0 and closed >= opened - a.stalled,
                 f"of {opened} clients that never read, the gateway closed {closed:.0f}: a stuck client would hold "
                 "its memory and descriptor for ever"))
    end = data.get("at_end") or {"ok": False, "error": "not run"}
    rows.append(("a fresh client served at the end", end["ok"],
                 f"a user connecting after the soak got no prices: {end.get('error')}"))
    g = data["gateway"]
    rows.append(("gateway alive, exit status 0", g["alive_at_end"] and g["exit_status"] == 0,
                 f"the gateway {'exited during the soak' if not g['alive_at_end'] else 'stopped'} with status "
                 f"{g['exit_status']}: every user would have been cut off"))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", default=os.environ.get("TICKGATE_BIN"))
    p.add_argument("--load", default=os.environ.get("TICKGATE_LOAD_BIN"))
    p.add_argument("--keep", help="write the soak's JSON, CSV, SVG and logs here (default: a temporary "
                                  "directory, kept only when a check fails)")
    args = p.parse_args()
    if not (args.gateway and args.load):
        p.error("--gateway and --load (or $TICKGATE_BIN and $TICKGATE_LOAD_BIN) are required")
    out = args.keep or tempfile.mkdtemp(prefix="tickgate-soak-short-")
    a = soak.parse_args(SETTINGS + ["--out", out])
    data = soak.run_soak(a, args.gateway, args.load, out, at_end=fresh_client)
    rows = judge(a, data)
    failures = sum(1 for _, ok, _ in rows if not ok)
    s = data["summary"]
    for case, ok, message in rows:
        print(f"| soak | {case} | {'ok' if ok else 'FAIL: ' + message} |")
    print(f"RSS {s.get('rss_ref_kib')} KiB at minute {s.get('reference_minute')}, max {s.get('rss_max_kib')}, last "
          f"{s.get('rss_last_kib')}; descriptors idle {s.get('idle_fds_before')} -> {s.get('idle_fds_after')}, "
          f"{s.get('fds_ref')} at the reference with {s.get('connections_ref')} connections, {s.get('fds_last')} last "
          f"with {s.get('connections_last')}; churn cycles {s.get('churn_cycles')}; stalled {s.get('stalled_opened')} "
          f"opened, closed by heartbeat {s.get('stalled_closed_heartbeat')}, 1008 {s.get('stalled_closed_slow_1008')}; "
          f"normal delivered {s.get('delivered_per_s', 0):,.0f} msgs/s, gaps {s.get('normal_gaps')}")
    if failures:
        print(f"{failures} failed of {len(rows)}; the soak's files are in {out}")
    else:
        print(f"all {len(rows)} passed")
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
