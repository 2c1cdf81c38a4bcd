#!/usr/bin/python3
"""NATS scale-out benchmark (issue 5): one tickgate-feed publishing through nats-server (JetStream
on) to two gateways (--feed nats://...), each loaded by its own tickgate-load with few clients; then
the single-process reference, one gateway with the same feed as its own simulator, same load.
Reports delivered messages/s and latency from the publisher's ts per gateway, CPU of every process
over a common window, the gateway CPU per ingested update, and the p99 NATS adds.

    bench/scenarios/nats.sh [--rate 2000] [--symbols 100] [--connections 20] [--duration 20] [--out DIR]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=B.DEFAULT_BUILD, help="build directory with tickgate, tickgate-feed and "
                   "tickgate-load (default $TICKGATE_BUILD_DIR or build-bench; built Release there when missing)")
    p.add_argument("--out", default=B.DEFAULT_OUT, help="result directory (default bench/results)")
    p.add_argument("--rate", type=float, default=2000, help="publisher updates/s over all symbols")
    p.add_argument("--symbols", type=int, default=100)
    p.add_argument("--connections", type=int, default=20,
                   help="clients per gateway: few, so the gateway's CPU is mostly ingest, not fan-out")
    p.add_argument("--per-connection", type=int, default=10)
    p.add_argument("--duration", type=float, default=20, help="seconds measured")
    p.add_argument("--bus-version", type=int, default=1, choices=(1, 2), help="the publisher's --bus-version")
    return p.parse_args()


def binaries(build):
    tickgate, load = B.binaries(build)
    feed = os.path.join(build, "tickgate-feed")
    if not os.access(feed, os.X_OK):
        B.log(f"building tickgate-feed (Release) in {build}")
        subprocess.run(["cmake", "--build", build, "--target", "tickgate-feed", "-j2"], check=True)
    return tickgate, feed, load


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    """user + system CPU seconds of a process so far (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def ingested(gw):
    return B.scrape_metrics(gw.metrics_url()).get("tickgate_feed_updates_total", 0)


def thread_cpu_s(pid, name):
    """CPU seconds of the threads of `pid` called `name`: the NATS feed names its thread
    "nats-feed" before nats.c starts its own, which inherit the name, so this is all of the
    gateway's NATS ingest (socket reads, the library, decoding, seq checks, the ring insert)."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            pass
    return total


def thread_switches(pid, name=None):
    """Context switches so far of the threads of `pid` (those called `name`, or all): voluntary
    ones are a thread going to sleep, so each is one wake-up later."""
    vol = invol = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if name is not None:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if f.read().strip() != name:
                        continue
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol += int(line.split()[1])
        except OSError:
            pass
    return vol, invol


def upstream_buckets(gw):
    """{le: cumulative count} of tickgate_upstream_latency_seconds (publisher ts to ring insert)."""
    out = {}
    text = urllib.request.urlopen(gw.metrics_url(), timeout=5).read().decode()
    for m in re.finditer(r'^tickgate_upstream_latency_seconds_bucket\{[^}]*le="([^"]+)"\} (\S+)$', text, re.M):
        out[float(m.group(1))] = float(m.group(2))
    return out


def bucket_quantile(b0, b1, q):
    """The upper bound of the bucket holding quantile q of the observations between two scrapes."""
    les = sorted(b1)
    total = b1[les[-1]] - b0.get(les[-1], 0)
    if total <= 0:
        return None
    for le in les:
        if b1[le] - b0.get(le, 0) >= q * total:
            return le
    return les[-1]


def measure(a, load_bin, procs, gateways, raw, label):
    """Loads every gateway at once (one tickgate-load each); samples CPU of `procs` ({name: Server})
    and each gateway's ingested updates over a window inside the load's measured one."""
    results = {}

    def run(i, gw):
        results[i] = B.run_load(load_bin, gw.url, [gw.pid], os.path.join(raw, f"{label}-{i}.load.json"),
                                ["--connections", a.connections, "--per-connection", a.per_connection,
                                 "--duration", a.duration, "--warmup", 2, "--connect-rate", 0, "--threads", 1,
                                 "--label", f"{label}-{i}"], timeout=a.duration + 60)

    threads = [threading.Thread(target=run, args=(i, gw)) for i, gw in enumerate(gateways)]
    for t in threads:
        t.start()
    # Connections open at once; the load measures from ~2.5 s (warm-up) on: start a little later,
    # end a little earlier, so every sample is under full load.
    time.sleep(4)
    cpu0 = {n: cpu_s(s.pid) for n, s in procs.items()}
    ingest0 = [thread_cpu_s(g.pid, "nats-feed") for g in gateways]
    sw0 = [(thread_switches(g.pid, "nats-feed"), thread_switches(g.pid)) for g in gateways]
    upd0 = [ingested(g) for g in gateways]
    lat0 = [upstream_buckets(g) for g in gateways]
    t0 = time.time()
    time.sleep(max(1.0, a.duration - 3))
    cpu1 = {n: cpu_s(s.pid) for n, s in procs.items()}
    ingest1 = [thread_cpu_s(g.pid, "nats-feed") for g in gateways]
    sw1 = [(thread_switches(g.pid, "nats-feed"), thread_switches(g.pid)) for g in gateways]
    upd1 = [ingested(g) for g in gateways]
    lat1 = [upstream_buckets(g) for g in gateways]
    window = time.time() - t0
    for t in threads:
        t.join()
    cpu = {n: {"cpu_s": round(cpu1[n] - cpu0[n], 3), "cpu_util": round((cpu1[n] - cpu0[n]) / window, 3)}
           for n in procs}
    gws = []
    for i, g in enumerate(gateways):
        d = upd1[i] - upd0[i]
        name = f"gateway{i}"
        load = results[i]
        gws.append({
            "ingested_per_s": round(d / window, 1),
            "cpu_us_per_ingested_update": round(cpu[name]["cpu_s"] * 1e6 / d, 2) if d else None,
            "nats_ingest_cpu_us_per_update": round((ingest1[i] - ingest0[i]) * 1e6 / d, 2) if d and lat1[i] else None,
            # Voluntary context switches (wake-ups) per ingested update: of the nats-feed threads,
            # and of the whole gateway (workers and engine included).
            "nats_feed_wakeups_per_update": round((sw1[i][0][0] - sw0[i][0][0]) / d, 3) if d and lat1[i] else None,
            "gateway_wakeups_per_update": round((sw1[i][1][0] - sw0[i][1][0]) / d, 3) if d else None,
            "gateway_involuntary_switches_per_update": round((sw1[i][1][1] - sw0[i][1][1]) / d, 3) if d else None,
            "upstream_latency_p50_le_ms": (lambda v: v and v * 1e3)(bucket_quantile(lat0[i], lat1[i], 0.5)) if lat1[i] else None,
            "upstream_latency_p99_le_ms": (lambda v: v and v * 1e3)(bucket_quantile(lat0[i], lat1[i], 0.99)) if lat1[i] else None,
            "delivered_per_s": load.get("messages", {}).get("per_s") if load.get("ok") else None,
            "latency_ms": load.get("latency", {}).get("normal") if load.get("ok") else None,
            "seq": load.get("seq", {}).get("normal") if load.get("ok") else None,
            "load_ok": load.get("ok"), "load_error": load.get("error"),
        })
    return {"window_s": round(window, 2), "cpu": cpu, "gateways": gws}


def main():
    a = parse_args()
    B.exit_on_sigterm()
    tickgate, feed, load_bin = binaries(a.build)
    cert, key = B.certificate(a.out)
    raw = os.path.join(a.out, "raw")
    os.makedirs(raw, exist_ok=True)
    data = {"scenario": "nats", "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_before": B.loadavg(),
            "settings": vars(a)}
    servers = []
    try:
        store = tempfile.mkdtemp(prefix="tickgate-bench-nats-")
        port = free_port()
        # Debian installs it in /usr/sbin, not on an ordinary user's PATH.
        nats_bin = shutil.which("nats-server") or "/usr/sbin/nats-server"
        nats = B.Server("nats-server", [nats_bin, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
                        os.path.join(raw, "nats-server.log"), ready=r"Listening for client connections on (\S+)")
        servers.append(nats)
        url = f"nats://127.0.0.1:{port}"
        pub = B.Server("tickgate-feed", [feed, "--nats", url, "--metrics-listen", "127.0.0.1:0",
                                         "--symbols", str(a.symbols), "--rate", str(a.rate),
                                         "--bus-version", str(a.bus_version)],
                       os.path.join(raw, "nats-publisher.log"), ready=r"(created JetStream stream|seq continues)")
        servers.append(pub)
        gateways = []
        for i in range(2):
            gw = B.start_tickgate(tickgate, cert, key, os.path.join(raw, f"nats-gateway{i}.log"), a.rate, a.symbols,
                                  max_connections=a.connections, extra=("--feed", url))
            servers.append(gw)
            gateways.append(gw)
        B.log(f"nats: publisher {a.rate:g}/s over {a.symbols} symbols -> nats-server -> 2 gateways, "
              f"{a.connections} clients each, {a.duration:g} s")
        procs = {"nats-server": nats, "publisher": pub, "gateway0": gateways[0], "gateway1": gateways[1]}
        data["nats"] = measure(a, load_bin, procs, gateways, raw, "nats")
        for s in reversed(servers):
            s.stop()
        servers.clear()

        B.log(f"single process: one gateway with its own simulator at {a.rate:g}/s, {a.connections} clients")
        gw = B.start_tickgate(tickgate, cert, key, os.path.join(raw, "nats-reference.log"), a.rate, a.symbols,
                              max_connections=a.connections)
        servers.append(gw)
        data["single"] = measure(a, load_bin, {"gateway0": gw}, [gw], raw, "single")
    finally:
        for s in reversed(servers):
            s.stop()

    single = data["single"]["gateways"][0]
    checks = []
    if single["latency_ms"] and all(g["latency_ms"] for g in data["nats"]["gateways"]):
        added = max(g["latency_ms"]["p99_ms"] for g in data["nats"]["gateways"]) - single["latency_ms"]["p99_ms"]
        checks.append(B.check("p99 added by NATS (worst gateway - single process)", round(added * 1000), 1000,
                              added * 1000 <= 1000, "µs"))
    ingest = [g["nats_ingest_cpu_us_per_update"] for g in data["nats"]["gateways"]]
    if all(x is not None for x in ingest):
        checks.append(B.check("gateway CPU of NATS ingest per update (nats-feed threads, worst gateway)",
                              max(ingest), 5.0, max(ingest) <= 5.0, "µs"))
    data["checks"] = checks
    data["loadavg_after"] = B.loadavg()
    B.write_json(os.path.join(a.out, "nats.json"), data)

    def row(name, g, cpu):
        lat = g["latency_ms"] or {}
        return (f"  {name:<22} ingested {g['ingested_per_s']:>8,.0f}/s  delivered {g['delivered_per_s'] or 0:>8,.0f}/s  "
                f"p50 {lat.get('p50_ms', float('nan')):.3f} ms  p99 {lat.get('p99_ms', float('nan')):.3f} ms  "
                f"p99.9 {lat.get('p999_ms', float('nan')):.3f} ms  gaps {(g['seq'] or {}).get('gaps')}  "
                f"CPU {cpu['cpu_util'] * 100:.1f}% = {g['cpu_us_per_ingested_update']} µs/update"
                + (f", of which NATS ingest {g['nats_ingest_cpu_us_per_update']} µs; publisher ts to ring "
                   f"p50 <= {g['upstream_latency_p50_le_ms']} ms, p99 <= {g['upstream_latency_p99_le_ms']} ms; "
                   f"wake-ups per update: nats-feed {g['nats_feed_wakeups_per_update']}, "
                   f"gateway {g['gateway_wakeups_per_update']}"
                   if g.get("nats_ingest_cpu_us_per_update") is not None else ""))
    B.log(f"load average before {data['loadavg_before']}, after {data['loadavg_after']}")
    for i, g in enumerate(data["nats"]["gateways"]):
        print(row(f"NATS gateway{i}", g, data["nats"]["cpu"][f"gateway{i}"]))
    print(row("single process", single, data["single"]["cpu"]["gateway0"]))
    for n in ("nats-server", "publisher"):
        c = data["nats"]["cpu"][n]
        print(f"  {n:<22} CPU {c['cpu_util'] * 100:.1f}% ({c['cpu_s']} s over {data['nats']['window_s']} s)")
    for c in checks:
        print(f"  {'PASS' if c['pass'] else 'MISS'} {c['target']}: {c['measured']} {c['unit']} (target {c['limit']})")


if __name__ == "__main__":
    main()
