#!/usr/bin/python3
"""Peer comparison (issue 3): the fanout scenario against tickgate and against minimal servers on
the stacks people would otherwise pick (bench/peers/*), with the same tickgate-load, certificate,
feed pacing and message bytes. A peer that cannot keep up at the full rate is stepped down through
--fallback-rates to the highest rate it sustains, and tickgate is measured at that rate too, so each
ratio compares like with like. Writes OUT/peers.json. See bench/README.md.

    bench/peers/compare.sh [--quick] [--out DIR] [--peers node-ws,node-socketio,flask-socketio]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))
import benchlib as B  # noqa: E402

PEERS = {
    # name: (argv prefix, protocol, URL suffix after the printed base URL)
    "node-ws": (["node", os.path.join(HERE, "node-ws", "server.mjs")], "v1", ""),
    "node-socketio": (["node", os.path.join(HERE, "node-socketio", "server.mjs")], "socketio", "?EIO=4&transport=websocket"),
    "flask-socketio": (["/usr/bin/python3", os.path.join(HERE, "flask-socketio", "server.py")], "socketio",
                       "?EIO=4&transport=websocket"),
}
# Where the issue sets a bound: tickgate's CPU per delivered message at most 1/N of the peer's.
CPU_RATIO_TARGET = {"node-ws": 2.5, "node-socketio": 10, "flask-socketio": 20}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=B.DEFAULT_OUT)
    p.add_argument("--build", default=B.DEFAULT_BUILD)
    p.add_argument("--quick", action="store_true", help="8 s windows (a smoke run, not the figures)")
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--per-connection", type=int, default=10)
    p.add_argument("--symbols", type=int, default=100)
    p.add_argument("--rate", type=float, default=1000, help="feed updates/s (fanout: 1,000)")
    p.add_argument("--fallback-rates", default="500,250,100,50,25",
                   help="lower feed rates tried in order when a peer does not keep up")
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--connect-rate", type=float, default=500)
    p.add_argument("--load-threads", type=int, default=1)
    p.add_argument("--gateway-threads", type=int, default=1,
                   help="tickgate --threads (default 1: tickgate-load holds the other core, and the peers are "
                        "single-threaded too)")
    a = p.parse_args()
    if a.quick:
        a.duration = 8
    a.peers = [x for x in a.peers.split(",") if x]
    for x in a.peers:
        if x not in PEERS:
            p.error(f"unknown peer {x}")
    return a


def topics(symbols):
    """The peers' topic list, in the simulator's order (Socket.IO servers have no `list`)."""
    sys.path.insert(0, os.path.join(HERE, "common"))
    from sim import Simulator
    return Simulator(symbols).topics


def main():
    B.exit_on_sigterm()
    a = parse_args()
    tickgate, load = B.binaries(a.build)
    cert, key = B.certificate(a.out)
    raw = os.path.join(a.out, "raw")
    os.makedirs(raw, exist_ok=True)
    topic_list = ",".join(topics(a.symbols))

    def measure(server, rate):
        """Starts `server` at `rate`, runs the fanout load, stops it; returns a run record."""
        label = f"peers-{server}-{int(rate)}"
        log_path = os.path.join(raw, label + ".server.log")
        if server == "tickgate":
            srv, proto, suffix = B.start_tickgate(tickgate, cert, key, log_path, rate, a.symbols, a.connections,
                                  extra=["--threads", str(a.gateway_threads)]), "v1", ""
        else:
            argv, proto, suffix = PEERS[server]
            srv = B.Server(server, [*argv, "--cert", cert, "--key", key, "--symbols", str(a.symbols),
                                    "--rate", str(rate)], log_path)
        args = ["--connections", a.connections, "--per-connection", a.per_connection, "--threads", a.load_threads,
                "--duration", a.duration, "--warmup", 2, "--connect-rate", a.connect_rate, "--label", label]
        if proto == "socketio":
            args += ["--protocol", "socketio", "--topics", topic_list]
        alive = False
        try:
            rss_idle = srv.rss_kib()
            result = B.run_load(load, srv.url + suffix, [srv.pid], os.path.join(raw, label + ".load.json"), args,
                                timeout=a.duration + a.connections / a.connect_rate + 60,
                                log_path=os.path.join(raw, label + ".load.log"))
            alive = srv.alive()
        finally:
            status = srv.stop()
        expected = B.expected_per_s(rate, a.symbols, a.connections, a.per_connection)
        ok, reason = B.keeps_up(result, expected)
        if not alive or status != 0:
            reason += f"; the server died (exit {status})" if not alive else f"; exit status {status}"
        run = {"server": server, "rate": rate, "expected_per_s": expected, "keeps_up": ok, "reason": reason,
               "rss_idle_kib": rss_idle, "alive_at_end": alive, "exit_status": status, "load": result}
        if result.get("ok"):
            B.log(f"  {server:15} rate {rate:>6.0f}: {result['messages']['per_s']:>9,.0f} msg/s of {expected:,.0f}, "
                  f"p99 {result['latency']['normal']['p99_ms']:.2f} ms, "
                  f"{result['targets_total']['cpu_us_per_message']:.2f} µs/msg: {reason}")
        else:
            B.log(f"  {server:15} rate {rate:>6.0f}: {reason}")
        return run

    data = {"scenario": "peers", "loadavg_before": B.loadavg(),
            "settings": {"connections": a.connections, "per_connection": a.per_connection, "symbols": a.symbols,
                         "rate": a.rate, "duration_s": a.duration, "connect_rate": a.connect_rate,
                         "load_threads": a.load_threads, "gateway_threads": a.gateway_threads},
            "runs": [], "peers": {}}
    rates = [a.rate] + [float(r) for r in a.fallback_rates.split(",") if r and float(r) < a.rate]
    B.log(f"peer comparison: load average {B.loadavg()}")
    tickgate_runs = {a.rate: measure("tickgate", a.rate)}
    data["runs"].append(tickgate_runs[a.rate])

    for peer in a.peers:
        attempts = []
        for rate in rates:
            run = measure(peer, rate)
            attempts.append(run)
            data["runs"].append(run)
            if run["keeps_up"]:
                break
        sustained = next((r for r in attempts if r["keeps_up"]), None)
        # Compare at the highest rate the peer sustains (or, if none, at the lowest tried).
        at = sustained or attempts[-1]
        if at["rate"] not in tickgate_runs:
            tickgate_runs[at["rate"]] = measure("tickgate", at["rate"])
            data["runs"].append(tickgate_runs[at["rate"]])
        tg = tickgate_runs[at["rate"]]
        entry = {"compared_at_rate": at["rate"], "sustained_rate": sustained["rate"] if sustained else None,
                 "full_rate_kept_up": attempts[0]["keeps_up"], "full_rate_reason": attempts[0]["reason"]}
        if at["load"].get("ok") and tg["load"].get("ok"):
            p, t = at["load"], tg["load"]
            entry.update({
                "cpu_ratio": p["targets_total"]["cpu_us_per_message"] / t["targets_total"]["cpu_us_per_message"],
                "p99_ratio": p["latency"]["normal"]["p99_ms"] / t["latency"]["normal"]["p99_ms"],
                "rss_per_connection_ratio": p["targets_total"]["rss_kib_per_connection"] / t["targets_total"]["rss_kib_per_connection"],
                "delivered_ratio": p["messages"]["per_s"] / t["messages"]["per_s"],
            })
            target = CPU_RATIO_TARGET[peer]
            entry["check"] = B.check(f"{peer} CPU/msg ÷ tickgate CPU/msg (at {at['rate']:.0f} updates/s)",
                                     round(entry["cpu_ratio"], 2), f"≥ {target}", entry["cpu_ratio"] >= target, "×")
            B.log(f"  {'PASS' if entry['check']['pass'] else 'MISS'} {entry['check']['target']}: "
                  f"{entry['cpu_ratio']:.2f}× (target ≥ {target}×)")
        data["peers"][peer] = entry
    data["loadavg_after"] = B.loadavg()
    B.write_json(os.path.join(a.out, "peers.json"), data)
    B.log(f"wrote {os.path.join(a.out, 'peers.json')}")


if __name__ == "__main__":
    main()
