#!/usr/bin/python3
"""Turns the benchmark JSON (bench/scenarios/run.sh, bench/peers/compare.sh) into RESULTS/REPORT.md
and PNG plots drawn by gnuplot: latency percentiles per scenario, throughput and p99 against the
feed rate (saturation), and tickgate beside the peers. Reads whatever results exist; a scenario
that was not run is left out. See bench/README.md.

    bench/report/report.sh [--results DIR]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SCENARIOS = ["fanout", "connections", "handshake", "slow", "saturation"]


def load_results(d):
    out = {}
    for name in SCENARIOS + ["peers"]:
        path = os.path.join(d, name + ".json")
        if os.path.exists(path):
            with open(path) as f:
                out[name] = json.load(f)
    return out


def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if abs(v) >= 1000 or v.is_integer():
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return str(v)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def la(r):
    b, a = r.get("loadavg_before"), r.get("loadavg_after")
    return f"{b[0]:.2f} → {a[0]:.2f}" if b and a else "–"


def bytes_per_msg(load):
    m = load["messages"]
    return m["bytes"] / m["delivered"] if m.get("delivered") else None


def msgs_per_write(metrics):
    """Messages per socket write: the fan-out latency histogram takes one sample per write."""
    writes = metrics.get("tickgate_fanout_latency_seconds_count", 0)
    return metrics.get("tickgate_messages_sent_total", 0) / writes if writes else None


# ---- Markdown ----

def machine():
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({model}), {os.uname().release}"


def targets_section(res):
    rows = []
    for name in SCENARIOS:
        r = res.get(name)
        for c in (r or {}).get("checks", []):
            rows.append([name, c["target"], f"{fmt(c['measured'])} {c['unit']}".strip(), f"{fmt(c['limit'])} {c['unit']}".strip(),
                         "✅" if c["pass"] else "❌ missed", la(r)])
    p = res.get("peers")
    for peer, e in (p or {}).get("peers", {}).items():
        if "check" in e:
            c = e["check"]
            rows.append(["peers", c["target"], f"{fmt(c['measured'])} ×", c["limit"] + " ×",
                         "✅" if c["pass"] else "❌ missed", la(p)])
    if not rows:
        return ""
    return "## Targets\n\n" + table(["scenario", "target", "measured", "limit", "", "load avg (1 min) before → after"], rows)


def scenario_section(res):
    rows = []
    for name in ["fanout", "connections", "slow"]:
        r = res.get(name)
        if not r or not r["load"].get("ok"):
            continue
        l = r["load"]
        for cls in (["normal", "slow"] if name == "slow" else ["normal"]):
            lat, seq = l["latency"][cls], l["seq"][cls]
            per_s = l["messages"]["per_s"] if cls == "normal" else l["messages"].get("delivered_slow", 0) / l["window_s"]
            rows.append([name + (f" ({cls} clients)" if name == "slow" else ""), l["connections"]["open_at_end"],
                         r["settings"]["rate"], r["gateway"].get("feed_rate_actual"), per_s, lat["p50_ms"], lat["p90_ms"], lat["p99_ms"], lat["p999_ms"], lat["max_ms"],
                         seq["gaps"], l["connections"]["disconnects"]["total"] if cls == "normal" else "–",
                         l["targets_total"]["cpu_us_per_message"], l["targets"][0]["cpu_util"],
                         l["targets_total"]["rss_kib_per_connection"], l["self"]["cpu_us_per_message"],
                         l["self"]["saturated"]])
    out = ""
    if rows:
        out += ("## Scenarios\n\nLatency is receive time − the update's `ts` (same host clock), in ms; CPU is the "
                "gateway's own (user + sys from /proc) per delivered message; RSS is the gateway's at the end ÷ "
                "open connections; the load generator's own CPU per message is shown so it can be subtracted "
                "from the machine's two cores. \"feed actual/s\" is what the gateway's simulator really published "
                "during the run (`tickgate_feed_updates_total`), below `--rate` when its thread is starved.\n\n")
        out += table(["scenario", "open conns", "feed --rate", "feed actual/s", "delivered msg/s", "p50", "p90", "p99", "p99.9", "max", "seq gaps",
                      "disconnects", "gateway µs/msg", "gateway CPU (cores)", "RSS KiB/conn", "load-gen µs/msg",
                      "load-gen saturated"], rows)
    c = res.get("connections")
    if c and c["load"].get("ok"):
        t = c["load"]["targets"][0]
        out += (f"\nconnections: gateway RSS {t['rss_end_kib'] / 1024:.1f} MiB with "
                f"{c['load']['connections']['open_at_end']:,} TLS clients (idle before the clients: "
                f"{c['gateway']['rss_idle_kib'] / 1024:.1f} MiB; marginal "
                f"{fmt(c.get('rss_marginal_kib_per_connection'))} KiB per connection).\n")
    h = res.get("handshake")
    if h and h["load"].get("ok"):
        hc = h["load"]["connections"]
        out += ("\n### Handshake storm\n\n" + table(
            ["concurrent loops", "cycles/s", "cycles", "handshake p50", "p99", "ready p50", "ready p99", "failures",
             "gateway µs/cycle", "gateway CPU (cores)", "tickgate-load µs/cycle"],
            [[h["settings"]["churners"], hc["churn_cycles_per_s"], hc["churn_cycles"], hc["handshake"]["p50_ms"],
              hc["handshake"]["p99_ms"], hc["ready"]["p50_ms"], hc["ready"]["p99_ms"], hc["failures"]["total"],
              h["load"]["targets"][0]["cpu_s"] * 1e6 / max(1, hc["churn_cycles"]), h["load"]["targets"][0]["cpu_util"],
              h["load"]["self"]["cpu_s"] * 1e6 / max(1, hc["churn_cycles"])]]))
        out += "\nA cycle: TCP connect, TLS 1.3 handshake, WebSocket upgrade, subscribe, the ack, close. Times in ms.\n"
        if h.get("cpu_bound_cycles_per_s"):
            out += (f"Both ends share the machine: at these CPU costs per cycle its cores allow at most "
                    f"{h['cpu_bound_cycles_per_s']:,.0f} cycles/s.\n")
    s = res.get("saturation")
    if s and s.get("steps"):
        rows = []
        for st in s["steps"]:
            l = st["load"]
            if not l.get("ok"):
                rows.append([st["rate"], None, st["expected_per_s"], None, None, None, None, None, None, None, None, st["reason"]])
                continue
            m = st.get("gateway", {}).get("metrics", {})
            rows.append([st["rate"], st["gateway"].get("feed_rate_actual"), st["expected_per_s"], l["messages"]["per_s"],
                         l["latency"]["normal"]["p50_ms"],
                         l["latency"]["normal"]["p99_ms"], l["latency"]["normal"]["p999_ms"],
                         l["targets_total"]["cpu_us_per_message"], l["targets"][0]["cpu_util"],
                         m.get("tickgate_updates_skipped_behind_total", 0) + m.get("tickgate_messages_conflated_total", 0),
                         msgs_per_write(m), st["reason"]])
        out += "\n### Saturation\n\n" + table(
            ["feed --rate", "feed actual/s", "offered msg/s", "delivered msg/s", "p50", "p99", "p99.9", "gateway µs/msg",
             "gateway CPU (cores)", "skipped+conflated", "msgs/write", "verdict"], rows)
        k = s.get("knee")
        if k:
            out += (f"\n**Knee**: {k['delivered_per_s']:,.0f} messages/s delivered at a feed of {k['rate']:,.0f} updates/s "
                    f"(p99 {k['p99_ms']:.2f} ms, {k['cpu_us_per_message']:.2f} µs of gateway CPU per message, gateway at "
                    f"{k['gateway_cpu_util']:.2f} cores). Next step: {k['failure']}.\n")
        else:
            out += (f"\n**Knee**: below the lowest step: already at {s['steps'][0]['rate']:,.0f} updates/s "
                    f"{s['steps'][0]['reason']}.\n")
    return out


def peers_section(res):
    p = res.get("peers")
    if not p:
        return ""
    tick = {r["rate"]: r for r in p["runs"] if r["server"] == "tickgate"}
    rows = []
    for r in p["runs"]:
        l = r["load"]
        if not l.get("ok"):
            rows.append([r["server"], r["rate"], r["expected_per_s"], None, None, None, None, None, None, None, r["reason"]])
            continue
        t = tick.get(r["rate"])
        ratio = (l["targets_total"]["cpu_us_per_message"] / t["load"]["targets_total"]["cpu_us_per_message"]
                 if t and t["load"].get("ok") and r["server"] != "tickgate" else None)
        rows.append([r["server"], r["rate"], r["expected_per_s"], l["messages"]["per_s"], l["latency"]["normal"]["p50_ms"],
                     l["latency"]["normal"]["p99_ms"], l["targets_total"]["cpu_us_per_message"],
                     l["targets_total"]["rss_kib_per_connection"], bytes_per_msg(l),
                     f"{ratio:.1f}×" if ratio else "–", r["reason"]])
    s = p["settings"]
    out = ("## tickgate beside the peers\n\n"
           f"Fanout scenario: {s['connections']:,} TLS clients × {s['per_connection']} of {s['symbols']} topics, "
           f"{s['duration_s']:.0f} s windows, the same tickgate-load, ECDSA P-256 certificate, simulator pacing and "
           "update JSON. A server that does not keep up (≥ 95% of the offered messages, p99 ≤ 10 ms, no gaps or "
           "disconnects) is stepped down to the highest rate it sustains and compared with tickgate at that rate. "
           "Bytes/msg is what the client reads per update, WebSocket framing included (Socket.IO adds "
           "`42[\"ticker\",…]`).\n\n")
    out += table(["server", "feed updates/s", "offered msg/s", "delivered msg/s", "p50 ms", "p99 ms", "CPU µs/msg",
                  "RSS KiB/conn", "bytes/msg", "CPU ÷ tickgate's", "verdict"], rows)
    rows = []
    for peer, e in p["peers"].items():
        rows.append([peer, e["sustained_rate"] or f"none (compared at {e['compared_at_rate']:.0f})",
                     e.get("cpu_ratio"), e.get("p99_ratio"), e.get("rss_per_connection_ratio"),
                     e.get("delivered_ratio"), e.get("check", {}).get("limit", "–")])
    out += "\nRatios peer ÷ tickgate at the same feed rate:\n\n" + table(
        ["peer", "highest rate sustained", "CPU/msg", "p99", "RSS/conn", "delivered", "CPU target"], rows)
    return out


def metrics_section(res):
    rows = []
    names = [("tickgate_messages_conflated_total", "conflated"), ("tickgate_updates_skipped_behind_total", "skipped behind"),
             ("tickgate_slow_consumer_disconnects_total", "slow-consumer closes"),
             ("tickgate_engine_backpressure_waits_total", "engine backpressure waits"),
             ("tickgate_ring_full_total", "ring full"), ("tickgate_accept_errors_total", "accept errors")]
    for name in ["fanout", "connections", "handshake", "slow"]:
        r = res.get(name)
        if r and isinstance(r.get("gateway", {}).get("metrics"), dict):
            m = r["gateway"]["metrics"]
            if "error" in m:  # not scraped: the gateway had died
                rows.append([name] + [f"– ({m['error']})"] + ["–"] * len(names))
                continue
            # The storm sends acks, not updates: messages per write means nothing there.
            rows.append([name] + [int(m.get(n, 0)) for n, _ in names] + [msgs_per_write(m) if name != "handshake" else "–"])
    if not rows:
        return ""
    return ("\n### Gateway counters at the end of each run (/metrics)\n\nmsgs/write: messages sent ÷ socket writes "
            "(`tickgate_messages_sent_total` ÷ `tickgate_fanout_latency_seconds_count`, one sample per write): each "
            "write costs one TLS record and one send(), so this is what amortizes them.\n\n"
            + table(["scenario"] + [h for _, h in names] + ["msgs/write"], rows))


# ---- plots ----

def gnuplot(script, cwd):
    subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, check=True)


TERM = "set terminal pngcairo size 1000,600 font 'DejaVu Sans,11' noenhanced\n"


def plot_latency(res, d):
    rows = []
    for name in ["fanout", "connections", "slow"]:
        r = res.get(name)
        if r and r["load"].get("ok"):
            lat = r["load"]["latency"]["normal"]
            rows.append((name + (" (normal)" if name == "slow" else ""), lat))
    s = res.get("saturation")
    if s and s.get("knee"):
        knee = next(st for st in s["steps"] if st["rate"] == s["knee"]["rate"])
        rows.append((f"saturation knee ({s['knee']['rate']:.0f}/s)", knee["load"]["latency"]["normal"]))
    if not rows:
        return None
    with open(os.path.join(d, "raw", "latency.dat"), "w") as f:
        f.write("scenario p50 p90 p99 p99.9 max\n")
        for name, lat in rows:
            f.write(f'"{name}" {lat["p50_ms"]} {lat["p90_ms"]} {lat["p99_ms"]} {lat["p999_ms"]} {lat["max_ms"]}\n')
    top = max(lat["max_ms"] for _, lat in rows) * 3  # room for the value labels
    gnuplot(TERM + f"set xrange [-1:{6 * len(rows) - 1}]\nset yrange [0.01:{top}]\n" + """set output 'latency.png'
set title 'tickgate: latency percentiles per scenario (receive time - ts)'
set ylabel 'latency (ms, log scale)'
set logscale y
# Boxes placed by hand (group j, percentile i at x = 6j + i - 2) so each value can sit above its bar.
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below horizontal
set grid ytics
set xtics scale 0
set key autotitle columnhead
plot for [i=2:6] 'raw/latency.dat' using ($0 * 6 + i - 2):i with boxes title columnheader(i), \\
     'raw/latency.dat' using ($0 * 6 + 2):(NaN):xticlabels(1) notitle, \\
     for [i=2:6] 'raw/latency.dat' using ($0 * 6 + i - 2):(column(i)):(sprintf('%.2f', column(i))) \\
         with labels offset 0,0.7 font ',8' notitle
""", d)
    return "latency.png"


def plot_saturation(res, d):
    s = res.get("saturation")
    steps = [st for st in (s or {}).get("steps", []) if st["load"].get("ok")]
    if not steps:
        return None
    with open(os.path.join(d, "raw", "saturation.dat"), "w") as f:
        f.write("rate offered delivered p50 p99 p999 cpu_us\n")
        for st in steps:
            l = st["load"]
            f.write(f"{st['rate']:.0f} {st['expected_per_s'] / 1000} {l['messages']['per_s'] / 1000} "
                    f"{l['latency']['normal']['p50_ms']} {l['latency']['normal']['p99_ms']} "
                    f"{l['latency']['normal']['p999_ms']} {l['targets_total']['cpu_us_per_message']}\n")
    st = s["settings"]
    head = f"conns = {st['connections']}; k = {st['per_connection']}; symbols = {st['symbols']}\n"
    gnuplot(TERM.replace("1000,600", "1000,800") + head + """set output 'saturation.png'
set multiplot layout 2,1 title sprintf('tickgate saturation: %d TLS clients x %d of %d topics, feed rate stepped up', conns, k, symbols)
set grid
set key top left
set logscale x 2
set lmargin 12
set rmargin 12
set xlabel 'feed rate (updates/s, log scale)'
set ylabel 'thousand messages/s'
set yrange [0:*]
plot 'raw/saturation.dat' using 1:2:xtic(1) with linespoints lw 2 dt 2 title 'offered', \\
     '' using 1:3 with linespoints lw 2 pt 7 title 'delivered'
set logscale y
set yrange [*:*]
set ylabel 'latency, ms (log)'
set y2label 'gateway CPU us per message'
set y2tics
set y2range [0:*]
set key below horizontal
set ytics nomirror
plot 'raw/saturation.dat' using 1:4:xtic(1) with linespoints lw 2 pt 7 title 'p50', \\
     '' using 1:5 with linespoints lw 2 pt 7 title 'p99', \\
     '' using 1:6 with linespoints lw 2 pt 7 title 'p99.9', \\
     10 with lines dt 2 lw 2 lc rgb 'red' title '10 ms limit', \\
     '' using 1:7 axes x1y2 with linespoints lw 2 pt 5 lc rgb 'black' title 'CPU us/msg (right)'
unset multiplot
""", d)
    return "saturation.png"


def plot_peers(res, d):
    p = res.get("peers")
    runs = [r for r in (p or {}).get("runs", []) if r["load"].get("ok")]
    if not runs:
        return None
    # Every server at the full rate, then each peer beside tickgate at the rate they are compared at;
    # the intermediate steps are in the table only.
    pairs = {(peer, e["compared_at_rate"]) for peer, e in p["peers"].items()}
    pairs |= {("tickgate", rate) for _, rate in pairs}
    runs = [r for r in runs if r["rate"] == p["settings"]["rate"] or (r["server"], r["rate"]) in pairs]
    colors = {"tickgate": "#4472c4", "node-ws": "#70ad47", "node-socketio": "#ed7d31", "flask-socketio": "#a5a5a5"}
    with open(os.path.join(d, "raw", "peers.dat"), "w") as f:
        f.write("server cpu_us p99 rss_kib delivered_k color\n")
        for r in sorted(runs, key=lambda r: (-r["rate"], r["server"] != "tickgate", r["server"])):
            l = r["load"]
            mark = "" if r["keeps_up"] else " (behind)"
            color = int(colors.get(r["server"], "#000000")[1:], 16)
            f.write(f'"{r["server"]} @{r["rate"]:.0f}/s{mark}" {l["targets_total"]["cpu_us_per_message"]} '
                    f'{l["latency"]["normal"]["p99_ms"]} {l["targets_total"]["rss_kib_per_connection"]} '
                    f'{l["messages"]["per_s"] / 1000} {color}\n')
    gnuplot(TERM.replace("1000,600", "1200,1500") + f"set xrange [-0.6:{len(runs) - 0.4}]\n" + """set output 'peers.png'
set multiplot layout 4,1 title 'tickgate beside the peers (fanout scenario; the feed rate under each bar; (behind): did not keep up)'
set key autotitle columnhead
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by 20 right font ',10' scale 0
set lmargin 12
set grid ytics
unset key
# One box per run, coloured by server, its value printed above it.
bars(col, f) = sprintf("plot 'raw/peers.dat' using 0:%d:6:xtic(1) with boxes lc rgb variable, '' using 0:%d:(sprintf('%s', column(%d))) with labels offset 0,0.7 font ',9'", col, col, f, col)
set title 'server CPU per delivered message (us, log)'
set logscale y
set yrange [1:*]
eval bars(2, '%.1f')
set title 'p99 latency (ms, log)'
set yrange [0.1:*]
eval bars(3, '%.2f')
unset logscale y
set yrange [0:*]
set title 'RSS per connection (KiB)'
eval bars(4, '%.0f')
set title 'delivered (thousand messages/s)'
eval bars(5, '%.1f')
unset multiplot
""", d)
    return "peers.png"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--note", action="append", default=[], help="a paragraph on the run's conditions (repeatable)")
    a = ap.parse_args()
    res = load_results(a.results)
    if not res:
        sys.exit(f"report: no results in {a.results}; run bench/scenarios/run.sh and bench/peers/compare.sh first")
    os.makedirs(os.path.join(a.results, "raw"), exist_ok=True)
    plots = []
    if shutil.which("gnuplot"):
        for f in (plot_latency, plot_saturation, plot_peers):
            name = f(res, a.results)
            if name:
                plots.append(name)
    else:
        print("report: gnuplot not found (apt-get install gnuplot-nox, or TICKGATE_SETUP_BENCH=1 scripts/setup.sh); "
              "writing the tables only", file=sys.stderr)
    any_result = next(iter(res.values()))
    build = any_result.get("build", {})
    shown = os.path.relpath(a.results, ROOT) if a.results.startswith(ROOT + os.sep) else a.results
    md = ["# tickgate benchmark report\n",
          f"Generated {time.strftime('%Y-%m-%d %H:%M %Z')} from `{shown}`; machine: {machine()}; "
          f"build: {build.get('commit', '?')} (Release). The load generator runs on the same two cores. "
          "Load average (1 min, `/proc/loadavg`) before → after each run is listed with the targets: "
          "the machine is shared, so figures taken under a higher load are pessimistic.\n",
          *[n + "\n" for n in a.note],
          targets_section(res), scenario_section(res), metrics_section(res), peers_section(res)]
    if plots:
        md.append("## Plots\n\n" + "\n".join(f"![{p}]({p})\n" for p in plots))
    path = os.path.join(a.results, "REPORT.md")
    with open(path, "w") as f:
        f.write("\n".join(x for x in md if x))
    print(f"report: wrote {path}" + (f" and {', '.join(plots)}" if plots else ""))


if __name__ == "__main__":
    main()
