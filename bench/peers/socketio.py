#!/usr/bin/python3
"""Socket.IO beside protocol v1, and beside the Node.js socket.io peer (issue 4's benchmark).

The fanout scenario (1,000 TLS clients x 10 of 100 topics, 1,000 updates/s) with tickgate-load:
1. one tickgate process serves windows of protocol v1 clients and of Socket.IO-over-WebSocket
   clients in turn (v1, socketio, v1, socketio, ...: drift on a shared machine hits both alike),
   then both at once, half the clients each. CPU per delivered message comes from /proc for the
   gateway process over each window; the ratio socketio / v1 is taken from the same process.
2. the Node.js socket.io peer (bench/peers/node-socketio) under the same Socket.IO load, at each of
   --peer-rates, with tickgate's Socket.IO path measured at the same rate.
Writes OUT/socketio.json.

    bench/peers/socketio.sh [--quick] [--out DIR] [--rate 1000] [--peer-rates 1000,100] [--rounds 2]
"""

import argparse
import os
import statistics
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))
import benchlib as B  # noqa: E402

SIO_QUERY = "?EIO=4&transport=websocket"
CPU_VS_V1_TARGET = 1.3  # tickgate Socket.IO CPU/msg at most 1.3x its v1 CPU/msg
CPU_VS_NODE_TARGET = 10  # node socket.io CPU/msg at least 10x tickgate's Socket.IO CPU/msg


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=B.DEFAULT_OUT)
    p.add_argument("--build", default=B.DEFAULT_BUILD)
    p.add_argument("--quick", action="store_true", help="8 s windows, one round (a smoke run, not the figures)")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--per-connection", type=int, default=10)
    p.add_argument("--symbols", type=int, default=100)
    p.add_argument("--rate", type=float, default=1000, help="feed updates/s for the v1 / Socket.IO windows")
    p.add_argument("--peer-rates", default="1000,100",
                   help="feed rates at which node socket.io and tickgate's Socket.IO path are compared")
    p.add_argument("--rounds", type=int, default=2, help="v1 / Socket.IO window pairs on the one gateway")
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--connect-rate", type=float, default=500)
    p.add_argument("--load-threads", type=int, default=1)
    p.add_argument("--gateway-threads", type=int, default=1,
                   help="tickgate --threads (default 1: tickgate-load holds the other core, and the peers are "
                        "single-threaded too)")
    a = p.parse_args()
    if a.quick:
        a.duration, a.rounds = 8, 1
    a.peer_rates = [float(r) for r in a.peer_rates.split(",") if r]
    return a


def topics(symbols):
    """The simulator's topics in order (tickgate's and the peers' simulators share the symbol list);
    Socket.IO has no `list`, so both protocols draw from this one."""
    sys.path.insert(0, os.path.join(HERE, "common"))
    from sim import Simulator
    return Simulator(symbols).topics


def summary(run):
    """The figures of one load result, or its error."""
    r = run["load"]
    if not r.get("ok"):
        return {"ok": False, "error": r.get("error")}
    return {"ok": True, "per_s": r["messages"]["per_s"], "p50_ms": r["latency"]["normal"]["p50_ms"],
            "p99_ms": r["latency"]["normal"]["p99_ms"], "cpu_us_per_message": r["targets_total"]["cpu_us_per_message"],
            "server_cpu_s": r["targets"][0]["cpu_s"], "window_s": r["window_s"], "gaps": r["seq"]["normal"]["gaps"],
            "disconnects": r["connections"]["disconnects"]["total"], "load_saturated": r["self"]["saturated"]}


def main():
    B.exit_on_sigterm()
    a = parse_args()
    tickgate, load = B.binaries(a.build)
    cert, key = B.certificate(a.out)
    raw = os.path.join(a.out, "raw")
    os.makedirs(raw, exist_ok=True)
    topic_list = ",".join(topics(a.symbols))

    def run(srv, url, proto, label, connections, rate):
        args = ["--connections", connections, "--per-connection", a.per_connection, "--threads", a.load_threads,
                "--duration", a.duration, "--warmup", 2, "--connect-rate", a.connect_rate, "--label", label,
                "--topics", topic_list]
        if proto == "socketio":
            args += ["--protocol", "socketio"]
        result = B.run_load(load, url, [srv.pid], os.path.join(raw, label + ".load.json"), args,
                            timeout=a.duration + connections / a.connect_rate + 60,
                            log_path=os.path.join(raw, label + ".load.log"))
        expected = B.expected_per_s(rate, a.symbols, connections, a.per_connection)
        ok, reason = B.keeps_up(result, expected)
        record = {"label": label, "server": srv.name, "protocol": proto, "rate": rate, "connections": connections,
                  "expected_per_s": expected, "keeps_up": ok, "reason": reason, "load": result}
        s = summary(record)
        if s["ok"]:
            B.log(f"  {label:28} {s['per_s']:>9,.0f} msg/s of {expected:,.0f}, p99 {s['p99_ms']:.2f} ms, "
                  f"{s['cpu_us_per_message']:.2f} µs/msg: {reason}")
        else:
            B.log(f"  {label:28} {reason}")
        return record

    def tickgate_urls(srv):
        base = srv.url[: -len("/ws")]
        return {"v1": srv.url, "socketio": base + "/socket.io/" + SIO_QUERY}

    data = {"scenario": "socketio", "loadavg_before": B.loadavg(),
            "settings": {"connections": a.connections, "per_connection": a.per_connection, "symbols": a.symbols,
                         "rate": a.rate, "peer_rates": a.peer_rates, "rounds": a.rounds, "duration_s": a.duration,
                         "connect_rate": a.connect_rate, "load_threads": a.load_threads, "gateway_threads": a.gateway_threads},
            "windows": [], "mixed": None, "peer_runs": [], "checks": []}
    B.log(f"Socket.IO beside v1 and node socket.io: load average {B.loadavg()}")

    # 1. One gateway, v1 and Socket.IO windows in turn, then both at once.
    srv = B.start_tickgate(tickgate, cert, key, os.path.join(raw, "socketio-tickgate.server.log"), a.rate,
                           a.symbols, a.connections,
                                  extra=["--threads", str(a.gateway_threads)])
    try:
        urls = tickgate_urls(srv)
        for r in range(a.rounds):
            for proto in ("v1", "socketio"):
                data["windows"].append(run(srv, urls[proto], proto, f"socketio-{proto}-{r + 1}", a.connections, a.rate))
        half = a.connections // 2
        mixed = {}
        threads = [threading.Thread(target=lambda p=p: mixed.__setitem__(
            p, run(srv, urls[p], p, f"socketio-mixed-{p}", half, a.rate))) for p in ("v1", "socketio")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        data["mixed"] = mixed
        tickgate_alive = srv.alive()
    finally:
        status = srv.stop()
    data["tickgate_exit"] = {"alive_at_end": tickgate_alive, "status": status}

    # 2. node socket.io beside tickgate's Socket.IO path, at each peer rate.
    for rate in a.peer_rates:
        for name in ("tickgate", "node-socketio"):
            log_path = os.path.join(raw, f"socketio-peer-{name}-{int(rate)}.server.log")
            if name == "tickgate":
                peer = B.start_tickgate(tickgate, cert, key, log_path, rate, a.symbols, a.connections,
                                  extra=["--threads", str(a.gateway_threads)])
                url = tickgate_urls(peer)["socketio"]
            else:
                peer = B.Server(name, ["node", os.path.join(HERE, "node-socketio", "server.mjs"), "--cert", cert,
                                       "--key", key, "--symbols", str(a.symbols), "--rate", str(rate)], log_path)
                url = peer.url + SIO_QUERY
            try:
                data["peer_runs"].append(run(peer, url, "socketio", f"socketio-peer-{name}-{int(rate)}",
                                             a.connections, rate))
            finally:
                peer.stop()

    # Figures and ratios.
    def median_of(proto, key):
        values = [summary(w)[key] for w in data["windows"] if w["protocol"] == proto and summary(w)["ok"]]
        return statistics.median(values) if values else None

    figures = {p: {k: median_of(p, k) for k in ("per_s", "p99_ms", "cpu_us_per_message")} for p in ("v1", "socketio")}
    if all(m and m["load"].get("ok") for m in mixed.values()):
        s = {p: summary(m) for p, m in mixed.items()}
        # Both loads sample the same gateway over nearly the same window: its CPU rate over the
        # combined delivery rate.
        cpu_rate = statistics.mean(x["server_cpu_s"] / x["window_s"] for x in s.values())
        figures["mixed"] = {"per_s": {p: s[p]["per_s"] for p in s}, "p99_ms": {p: s[p]["p99_ms"] for p in s},
                            "cpu_us_per_message_total": cpu_rate * 1e6 / sum(x["per_s"] for x in s.values())}
    data["figures"] = figures
    if figures["v1"]["cpu_us_per_message"] and figures["socketio"]["cpu_us_per_message"]:
        ratio = figures["socketio"]["cpu_us_per_message"] / figures["v1"]["cpu_us_per_message"]
        data["checks"].append(B.check(f"tickgate Socket.IO CPU/msg ÷ v1 CPU/msg (at {a.rate:.0f} updates/s)",
                                      round(ratio, 2), f"≤ {CPU_VS_V1_TARGET}", ratio <= CPU_VS_V1_TARGET, "×"))
    for rate in a.peer_rates:
        pair = {r["server"]: summary(r) for r in data["peer_runs"] if r["rate"] == rate}
        if all(pair.get(n, {}).get("ok") for n in ("tickgate", "node-socketio")):
            ratio = pair["node-socketio"]["cpu_us_per_message"] / pair["tickgate"]["cpu_us_per_message"]
            data["checks"].append(B.check(f"node socket.io CPU/msg ÷ tickgate Socket.IO CPU/msg (at {rate:.0f} updates/s)",
                                          round(ratio, 2), f"≥ {CPU_VS_NODE_TARGET}", ratio >= CPU_VS_NODE_TARGET, "×"))
    for c in data["checks"]:
        B.log(f"  {'PASS' if c['pass'] else 'MISS'} {c['target']}: {c['measured']}× (target {c['limit']})")
    data["loadavg_after"] = B.loadavg()
    B.write_json(os.path.join(a.out, "socketio.json"), data)
    B.log(f"wrote {os.path.join(a.out, 'socketio.json')}")


if __name__ == "__main__":
    main()
