#!/usr/bin/python3
"""Runs tickgate's benchmark scenarios (issue 3): each starts its own Release tickgate on a free
loopback port with the benchmark certificate, loads it with tickgate-load (sampling the gateway's
CPU and RSS through --pid), stops it, and writes OUT/<scenario>.json with the load result, the
gateway's metrics and the targets checked. See bench/README.md.

    bench/scenarios/run.sh [--only NAME[,NAME]] [--quick] [--out DIR] [sizes...]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

SCENARIOS = ["fanout", "connections", "handshake", "slow", "saturation", "books", "bookcost", "throttle"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    p.add_argument("--quick", action="store_true", help="shorter windows and smaller sizes (a smoke run, not the figures)")
    p.add_argument("--out", default=B.DEFAULT_OUT, help="result directory (default bench/results)")
    p.add_argument("--build", default=B.DEFAULT_BUILD, help="build directory with tickgate and tickgate-load "
                   "(default $TICKGATE_BUILD_DIR or build-bench; built Release there when missing)")
    p.add_argument("--load-threads", type=int, default=1,
                   help="tickgate-load threads (default 1: the other core is the gateway's; raise it when "
                        "the result warns that the load generator is saturated)")
    p.add_argument("--gateway-threads", type=int, default=1,
                   help="tickgate --threads (default 1: tickgate-load holds the other core; with 2 workers the "
                        "machine runs more busy threads than it has cores and the tail latency is the scheduler's)")
    p.add_argument("--pin", action="store_true",
                   help="keep the gateway on CPU 0 and tickgate-load on CPU 1 (taskset), so that neither "
                        "preempts the other: shows how much of a tail is the two sharing cores")
    p.add_argument("--gateway-arg", action="append", default=[], help="extra tickgate flag (repeatable), e.g. --gateway-arg=--heartbeat-ms=5000")
    g = p.add_argument_group("fanout and slow")
    g.add_argument("--connections", type=int, default=1000)
    g.add_argument("--symbols", type=int, default=100)
    g.add_argument("--per-connection", type=int, default=10)
    g.add_argument("--rate", type=float, default=1000, help="feed updates/s over all symbols")
    g.add_argument("--duration", type=float, help="seconds measured (default 30; --quick 8)")
    g.add_argument("--slow-fraction", type=float, default=0.05)
    g = p.add_argument_group("connections")
    g.add_argument("--held", type=int, help="connections held (default 10000; --quick 2000)")
    g.add_argument("--held-rate", type=float, default=10, help="feed rate while holding them")
    g.add_argument("--held-connect-rate", type=float, default=300,
                   help="new connections per second (default 300: below the handshake rate a busy 2-core machine sustains, so no handshake waits out the gateway's 5 s timeout)")
    g.add_argument("--held-duration", type=float, help="default 20; --quick 5")
    g = p.add_argument_group("handshake")
    g.add_argument("--churners", type=int, default=64, help="concurrent connect/upgrade/subscribe/close loops")
    g.add_argument("--churn-duration", type=float, help="default 10; --quick 5")
    g = p.add_argument_group("saturation")
    g.add_argument("--steps", default="250,500,1000,2000,3000,4000,6000,8000,12000,16000,24000,32000",
                   help="feed rates tried in order until delivery falls behind or p99 > 10 ms")
    g.add_argument("--step-duration", type=float, help="seconds per step (default 6; --quick 4)")
    g = p.add_argument_group("books and bookcost (issues 13 and 14)")
    g.add_argument("--book-rate", type=float, default=5000, help="books: simulator book changes/s over all symbols")
    g.add_argument("--trade-rate", type=float, default=1000, help="books: simulator trades/s over all symbols")
    g.add_argument("--book-draws", default="book.*=1,book50.*=1,trade.*=2,ticker.*=2",
                   help="books: each client's topics, as tickgate-load --draw PATTERN=K groups (default: 2 books, "
                        "one of each depth, 2 trade topics, 2 tickers)")
    g.add_argument("--book-slow-fraction", type=float, default=0.05, help="books-stall, books-merge: share of stalled clients")
    g.add_argument("--merge-slow-fraction", type=float, default=0.01,
                   help="books-merge: share of stalled clients (each must be read out after the window: ~4 MB of "
                        "socket buffers and its merged backlog)")
    g.add_argument("--merge-topics", default="book.*,book50.*,trade.*",
                   help="books-merge: what the stalled clients subscribe to (enough traffic to outgrow the kernel's "
                        "socket buffers within the window, so the gateway's backlog builds and merges)")
    g.add_argument("--rounds", type=int, help="books, bookcost: interleaved rounds of every variant (default 3; --quick 1)")
    g.add_argument("--book-duration", type=float, help="books, bookcost: seconds measured per run (default 12; --quick 5)")
    g.add_argument("--cost-book-rate", type=float, default=2500,
                   help="bookcost: book changes/s, in both arms (the book arm draws book.*=1 and book50.*=1)")
    g.add_argument("--cost-ticker-rate", type=float, default=2350,
                   help="bookcost: ticker updates/s, in both arms (the ticker arm draws ticker.*=2); the default "
                        "matches the book arm's delivered rate (at 25 changes/s a symbol, ~86%% of them reach book.<SYM> "
                        "and all book50.<SYM>: ~47 msgs/s per client either way)")
    g = p.add_argument_group("throttle (issue 18)")
    g.add_argument("--throttle-symbols", type=int, default=20, help="throttle: simulator symbols (tickers)")
    g.add_argument("--throttle-rate", type=float, default=100,
                   help="throttle: ticker updates/s over all symbols (default 100: 5/s a symbol, so raw ticker.* is "
                        "100 msgs/s a client, 100k msgs/s for 1,000: what one worker serves without conflating)")
    g.add_argument("--throttle-clients", default="250,1000",
                   help="throttle: client counts of the throttled arm (the largest also runs raw)")
    a = p.parse_args()
    # Flags given explicitly win over both sets of defaults.
    defaults = dict(duration=8, held=2000, held_duration=5, churn_duration=5, step_duration=4, rounds=1,
                    book_duration=5) if a.quick else \
        dict(duration=30, held=10000, held_duration=20, churn_duration=10, step_duration=6, rounds=3, book_duration=12)
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.only = a.only.split(",") if a.only else SCENARIOS
    for s in a.only:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s}; choose from {','.join(SCENARIOS)}")
    return a


def build_info(build):
    """Which source the binaries were built from, for the record."""
    info = {"build_dir": build}
    try:
        cache = open(os.path.join(build, "CMakeCache.txt")).read()
        src = next(l.split("=", 1)[1] for l in cache.splitlines() if l.startswith("CMAKE_HOME_DIRECTORY"))
        info["source_dir"] = src
        commit_file = os.path.join(src, ".commit")
        if os.path.exists(commit_file):
            info["commit"] = open(commit_file).read().strip()
        else:
            info["commit"] = subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"],
                                            capture_output=True, text=True).stdout.strip()
    except (OSError, StopIteration):
        pass
    return info


class Runner:
    def __init__(self, a):
        self.a = a
        self.tickgate, self.load = B.binaries(a.build)
        os.makedirs(os.path.join(a.out, "raw"), exist_ok=True)
        self.cert, self.key = B.certificate(a.out)
        self.build = build_info(a.build)

    def raw(self, name):
        return os.path.join(self.a.out, "raw", name)

    def measure(self, label, rate, connections, load_args, timeout, per_connection=None, symbols=None,
                gateway_extra=(), topics=None, scrape_at=None, split_window=None):
        """One gateway, one tickgate-load run against it: returns (load result, gateway record).
        scrape_at: seconds into the run at which to read /metrics too (gauges of a loaded gateway;
        the scrape at the end comes after the clients left), kept as the record's metrics_during.
        split_window: (from, to) seconds into the run over which the gateway's latency split is
        counted, inside the load's measured window (connections made and warmed up, not yet
        closing), kept as the record's latency_split."""
        a = self.a
        symbols = symbols or a.symbols
        gw = B.start_tickgate(self.tickgate, self.cert, self.key, self.raw(label + ".gateway.log"), rate, symbols,
                              max_connections=connections, topics=topics, cpus=0 if a.pin else None,
                              extra=["--threads", str(a.gateway_threads), *map(str, gateway_extra), *a.gateway_arg])
        try:
            rss_idle = gw.rss_kib()
            # The feed's own output over the run: under CPU contention the simulator can publish fewer
            # than --rate updates/s, which shows as delivered < offered without any seq gap.
            before, t0 = B.scrape_metrics(gw.metrics_url()).get("tickgate_feed_updates_total", 0), time.time()
            during = {}
            timer = threading.Timer(scrape_at, lambda: during.update(B.scrape_metrics(gw.metrics_url()))) \
                if scrape_at else None
            if timer:
                timer.start()
            split = ({}, {})
            split_timers = [threading.Timer(at, lambda s=s: s.update(B.latency_split_buckets(gw.metrics_url())))
                            for at, s in zip(split_window, split)] if split_window else []
            for t in split_timers:
                t.start()
            load = B.run_load(self.load, gw.url, [gw.pid], self.raw(label + ".load.json"),
                              ["--connections", connections, "--per-connection", per_connection or a.per_connection,
                               "--threads", a.load_threads, "--label", label, *load_args],
                              timeout=timeout, log_path=self.raw(label + ".load.log"), cpus=1 if a.pin else None)
            metrics = B.scrape_metrics(gw.metrics_url()) if gw.alive() else {"error": "gateway exited during the run"}
            for t in split_timers:
                t.cancel()
                t.join()
            feed_rate = (metrics.get("tickgate_feed_updates_total", before) - before) / (time.time() - t0)
            alive = gw.alive()
            if timer:
                timer.cancel()
                timer.join()
        finally:
            status = gw.stop()
        record = {"argv": gw.proc.args, "rss_idle_kib": rss_idle, "alive_at_end": alive, "exit_status": status,
                  "feed_rate_actual": feed_rate if alive else None, "metrics": metrics,
                  "latency_split": B.latency_split(*split) if split[1] else None}
        if scrape_at:
            record["metrics_during"] = during
        return load, record

    def result(self, name, settings, **rest):
        return {"scenario": name, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_before": B.loadavg(),
                "settings": settings, "build": self.build, **rest}

    def save(self, name, data):
        data["loadavg_after"] = B.loadavg()
        # A gateway that crashed (e.g. while the clients closed at the end) fails its scenario.
        gateways = [data["gateway"]] if "gateway" in data else \
            [s["gateway"] for s in data.get("steps", []) + data.get("runs", [])]
        bad = [g["exit_status"] for g in gateways if not g["alive_at_end"] or g["exit_status"] != 0]
        data.setdefault("checks", []).append(
            B.check("gateway alive to the end, exit status 0", f"{len(bad)} of {len(gateways)} runs failed: exit {bad}"
                    if bad else "ok", "ok", not bad))
        B.write_json(os.path.join(self.a.out, name + ".json"), data)
        for c in data.get("checks", []):
            B.log(f"  {'PASS' if c['pass'] else 'MISS'} {c['target']}: {c['measured']} {c['unit']} (target {c['limit']})")

    # ---- scenarios ----

    def fanout_like(self, name, slow_fraction):
        a = self.a
        settings = {"connections": a.connections, "per_connection": a.per_connection, "symbols": a.symbols,
                    "rate": a.rate, "duration_s": a.duration, "slow_fraction": slow_fraction,
                    "load_threads": a.load_threads, "gateway_threads": a.gateway_threads,
                    "pinned": a.pin}
        data = self.result(name, settings)
        extra = ["--slow-fraction", slow_fraction, "--slow-mode", "stall"] if slow_fraction else []
        load, gw = self.measure(name, a.rate, a.connections,
                                ["--duration", a.duration, "--warmup", 2, "--connect-rate", 2000, *extra],
                                timeout=a.duration + a.connections / 500 + 60,
                                split_window=(a.connections / 2000 + 2.5, a.connections / 2000 + 2 + a.duration))
        expected = B.expected_per_s(a.rate, a.symbols, a.connections, a.per_connection) * (1 - slow_fraction)
        data.update(load=load, gateway=gw, expected_per_s=expected)
        for stage, s in (gw["latency_split"] or {}).items():
            B.log(f"  gateway {stage:>7}: p50 ≤ {s['p50_le_ms']} ms, p99 ≤ {s['p99_le_ms']} ms, "
                  f"p99.9 ≤ {s['p999_le_ms']} ms ({s['count']:.0f} samples)")
        data["checks"] = self.fanout_checks(load, expected) if not slow_fraction else self.slow_checks(load)
        return data

    def fanout_checks(self, load, expected):
        if not load.get("ok"):
            return [B.check("run", load.get("error"), "ok", False)]
        n, lat = load["seq"]["normal"], load["latency"]["normal"]
        cpu = load["targets_total"]["cpu_us_per_message"]
        return [
            B.check("delivered/s (≥ 95% of offered)", round(load["messages"]["per_s"]), round(expected),
                    load["messages"]["per_s"] >= 0.95 * expected, "msg/s"),
            B.check("seq gaps (normal clients)", n["gaps"], 0, n["gaps"] == 0),
            B.check("disconnects", load["connections"]["disconnects"]["total"], 0,
                    load["connections"]["disconnects"]["total"] == 0),
            B.check("p99", lat["p99_ms"], 1.0, lat["p99_ms"] <= 1.0, "ms"),
            B.check("p99.9", lat["p999_ms"], 3.0, lat["p999_ms"] <= 3.0, "ms"),
            B.check("gateway CPU per delivered msg", round(cpu, 2), 3.0, cpu <= 3.0, "µs"),
        ]

    def slow_checks(self, load):
        if not load.get("ok"):
            return [B.check("run", load.get("error"), "ok", False)]
        base_path = os.path.join(self.a.out, "fanout.json")
        p99 = load["latency"]["normal"]["p99_ms"]
        checks = [B.check("seq gaps (normal clients)", load["seq"]["normal"]["gaps"], 0,
                          load["seq"]["normal"]["gaps"] == 0)]
        same = ("connections", "per_connection", "symbols", "rate")
        try:
            fanout = json.load(open(base_path))
            base = fanout["load"]["latency"]["normal"]["p99_ms"]
            if any(fanout["settings"][k] != getattr(self.a, k) for k in same):
                checks.append(B.check("normal p99 / fanout p99", "fanout.json was run with other sizes", 1.5, False))
            else:
                checks.append(B.check("normal p99 / fanout p99", round(p99 / base, 2), 1.5, p99 <= 1.5 * base, "×"))
        except (OSError, KeyError, ValueError, ZeroDivisionError):
            checks.append(B.check("normal p99 / fanout p99", "no fanout.json to compare with", 1.5, False))
        return checks

    def fanout(self):
        return self.fanout_like("fanout", 0)

    def slow(self):
        return self.fanout_like("slow", self.a.slow_fraction)

    def connections(self):
        a = self.a
        settings = {"connections": a.held, "per_connection": a.per_connection, "symbols": a.symbols,
                    "rate": a.held_rate, "connect_rate": a.held_connect_rate, "duration_s": a.held_duration}
        data = self.result("connections", settings)
        load, gw = self.measure("connections", a.held_rate, a.held,
                                ["--duration", a.held_duration, "--warmup", 3, "--connect-rate", a.held_connect_rate],
                                timeout=a.held / a.held_connect_rate + a.held_duration + 90)
        data.update(load=load, gateway=gw)
        if not load.get("ok"):
            data["checks"] = [B.check("run", load.get("error"), "ok", False)]
            return data
        open_ = load["connections"]["open_at_end"]
        rss_end = load["targets"][0]["rss_end_kib"]
        per_conn = rss_end / open_ if open_ else float("inf")
        data["rss_marginal_kib_per_connection"] = (rss_end - gw["rss_idle_kib"]) / open_ if open_ else None
        data["checks"] = [
            B.check("connections held at the end", open_, a.held, open_ == a.held),
            B.check("gateway RSS per connection", round(per_conn, 1), 20, per_conn <= 20, "KiB"),
        ]
        return data

    def handshake(self):
        a = self.a
        settings = {"churners": a.churners, "duration_s": a.churn_duration, "per_connection": a.per_connection}
        data = self.result("handshake", settings)
        load, gw = self.measure("handshake", 10, a.churners,
                                ["--churn", "--duration", a.churn_duration, "--connect-rate", 0],
                                timeout=a.churn_duration + 60)
        data.update(load=load, gateway=gw)
        if not load.get("ok"):
            data["checks"] = [B.check("run", load.get("error"), "ok", False)]
            return data
        rate = load["connections"]["churn_cycles_per_s"]
        failures = load["connections"]["failures"]["total"]
        # What bounds the rate: CPU per cycle on each end (both share the machine's cores).
        cycles = load["connections"]["churn_cycles"] or 1
        data["gateway_cpu_us_per_cycle"] = load["targets_total"]["cpu_s"] * 1e6 / cycles
        data["load_cpu_us_per_cycle"] = load["self"]["cpu_s"] * 1e6 / cycles
        data["cpu_bound_cycles_per_s"] = (os.cpu_count() or 2) * 1e6 / (
            data["gateway_cpu_us_per_cycle"] + data["load_cpu_us_per_cycle"])
        data["checks"] = [
            B.check("connect+upgrade+subscribe+ack cycles per second", round(rate), 3000, rate >= 3000, "/s"),
            B.check("failed connections", failures, 0, failures == 0),
        ]
        return data

    def saturation(self):
        a = self.a
        rates = [float(r) for r in a.steps.split(",")]
        if a.quick:
            rates = rates[::2]
        settings = {"connections": a.connections, "per_connection": a.per_connection, "symbols": a.symbols,
                    "rates": rates, "step_duration_s": a.step_duration, "load_threads": a.load_threads, "gateway_threads": a.gateway_threads}
        data = self.result("saturation", settings)
        steps, knee = [], None
        for rate in rates:
            label = f"saturation-{int(rate)}"
            load, gw = self.measure(label, rate, a.connections,
                                    ["--duration", a.step_duration, "--warmup", 1, "--connect-rate", 2000],
                                    timeout=a.step_duration + a.connections / 500 + 60)
            expected = B.expected_per_s(rate, a.symbols, a.connections, a.per_connection)
            ok, reason = B.keeps_up(load, expected)
            step = {"rate": rate, "expected_per_s": expected, "keeps_up": ok, "reason": reason, "load": load,
                    "gateway": gw}
            steps.append(step)
            if load.get("ok"):
                B.log(f"  rate {rate:>7.0f}: delivered {load['messages']['per_s']:>10,.0f}/s of {expected:,.0f}, "
                      f"p99 {load['latency']['normal']['p99_ms']:.2f} ms, "
                      f"gateway {load['targets_total']['cpu_us_per_message']:.2f} µs/msg: {reason}")
            if not ok:
                break
            knee = step
        data["steps"] = steps
        if knee:
            l = knee["load"]
            data["knee"] = {"rate": knee["rate"], "delivered_per_s": l["messages"]["per_s"],
                            "p99_ms": l["latency"]["normal"]["p99_ms"],
                            "cpu_us_per_message": l["targets_total"]["cpu_us_per_message"],
                            "gateway_cpu_util": l["targets"][0]["cpu_util"],
                            "load_generator_saturated": l["self"]["saturated"],
                            "first_failing_step": steps[-1]["rate"] if not steps[-1]["keeps_up"] else None,
                            "failure": steps[-1]["reason"] if not steps[-1]["keeps_up"] else "every step kept up"}
        data["checks"] = [B.check("knee found (delivered msg/s at the last rate kept up)",
                                  round(data["knee"]["delivered_per_s"]) if knee else None, "reported", knee is not None, "msg/s")]
        return data

    # ---- books and trades (issues 13 and 14) ----

    def run_interleaved(self, name, variants, order):
        """Runs every variant once per round, in `order(round)`; returns the runs."""
        a = self.a
        runs = []
        for r in range(a.rounds):
            for v in order(r):
                spec = variants[v]
                label = f"{name}-{v}-{r + 1}"
                before = B.loadavg()
                load, gw = self.measure(label, spec["rate"], a.connections,
                                        ["--duration", a.book_duration, "--warmup", 2, "--connect-rate", 2000,
                                         *spec["load"]],
                                        timeout=a.book_duration + a.connections / 500 + 60,
                                        gateway_extra=spec["gateway"], topics=spec.get("topics"))
                f = book_figures(load, gw)
                runs.append({"variant": v, "round": r + 1, "loadavg_before": before, "loadavg_after": B.loadavg(),
                             "figures": f, "load": load, "gateway": gw})
                if f["ok"]:
                    b = f["books"]
                    B.log(f"  {label}: {f['delivered_per_s']:>9,.0f} msgs/s ({f['tickers']:,} tickers, "
                          f"{f['book_deltas']:,} book deltas, {f['trades']:,} trades), gateway "
                          f"{f['cpu_us_per_message']:.2f} µs/msg ({100 * f['gateway_cpu_util']:.0f}% cpu), "
                          f"tickgate-load {f['load_cpu_us_per_message']:.2f} µs/msg; books "
                          f"{b['messages']:,} checked, {b['chain_breaks']} breaks, {b['checksum_failures']} "
                          f"checksum failures; load avg {before[0]:.1f}")
                else:
                    B.log(f"  {label}: failed: {f['error']}")
        return runs

    def books(self):
        a = self.a
        draws = [x for d in a.book_draws.split(",") if d for x in ("--draw", d)]
        book_gateway = ["--book-rate", a.book_rate, "--trade-rate", a.trade_rate]
        variants = {
            # The ticker fanout scenario as `fanout` defines it (10 of 100 tickers, no books), for CPU per
            # delivered message in the same run.
            "fanout": {"rate": a.rate, "gateway": [], "load": []},  # measure() passes --per-connection
            "books": {"rate": a.rate, "gateway": book_gateway, "topics": 4 * a.symbols, "load": draws},
            "books-stall": {"rate": a.rate, "gateway": book_gateway, "topics": 4 * a.symbols,
                            "load": [*draws, "--slow-fraction", a.book_slow_fraction, "--slow-mode", "stall"]},
            # books-stall's stalled clients get ~30 KB/s, which the loopback socket buffers (megabytes)
            # hold for the whole window: the gateway's backlog never builds and nothing is merged. Here
            # they subscribe to every book and trade (~1.6 MB/s), and the gateway lets the backlog grow
            # (4 MiB, no 5 s age limit) so they stay connected while their deltas are merged; after the
            # window they read it all (tickgate-load --slow-drain 5) and every merged delta is checked.
            # Fewer of them (1%): each has ~4 MB in socket buffers to read out first, and every delta
            # merged into a stalled client's backlog costs the gateway several µs.
            "books-merge": {"rate": a.rate, "topics": 4 * a.symbols,
                            "gateway": [*book_gateway, "--max-queue-bytes", 4 << 20, "--slow-timeout-ms", 60000],
                            "load": [*draws, "--slow-fraction", a.merge_slow_fraction, "--slow-mode", "stall",
                                     "--slow-topics", a.merge_topics, "--slow-drain", 5]},
        }
        settings = {"connections": a.connections, "symbols": a.symbols, "rate": a.rate, "book_rate": a.book_rate,
                    "trade_rate": a.trade_rate, "book_draws": a.book_draws, "fanout_per_connection": a.per_connection,
                    "slow_fraction": a.book_slow_fraction, "merge_slow_fraction": a.merge_slow_fraction,
                    "merge_topics": a.merge_topics, "rounds": a.rounds, "duration_s": a.book_duration,
                    "load_threads": a.load_threads, "gateway_threads": a.gateway_threads}
        data = self.result("books", settings)
        runs = self.run_interleaved("books", variants, lambda r: list(variants))
        data["runs"] = runs
        data["medians"] = {v: summarize([x["figures"] for x in runs if x["variant"] == v]) for v in variants}
        m = data["medians"]
        if m["fanout"].get("cpu_us_per_message") and m["books"].get("cpu_us_per_message"):
            data["books_cpu_per_message_vs_fanout"] = m["books"]["cpu_us_per_message"] / m["fanout"]["cpu_us_per_message"]
        checks = []
        for v in ("books", "books-stall", "books-merge"):
            s = m[v]
            if not s["runs_ok"]:
                checks.append(B.check(f"{v}: runs", "none succeeded", "ok", False))
                continue
            checks += [
                B.check(f"{v}: book chain breaks (all clients, all rounds)", s["books"]["chain_breaks"], 0,
                        s["books"]["chain_breaks"] == 0),
                B.check(f"{v}: book checksum failures (all clients, all rounds)", s["books"]["checksum_failures"], 0,
                        s["books"]["checksum_failures"] == 0),
                B.check(f"{v}: of those, on book.<SYM> (top 10) topics", s["books"]["checksum_failures"] -
                        s["books"]["book50"]["checksum_failures"], 0,
                        s["books"]["checksum_failures"] == s["books"]["book50"]["checksum_failures"]),
                B.check(f"{v}: trade gaps (normal clients)", s["trades_normal"]["gaps"], 0, s["trades_normal"]["gaps"] == 0),
                B.check(f"{v}: ticker seq gaps (normal clients)", s["ticker_gaps_normal"], 0, s["ticker_gaps_normal"] == 0),
            ]
        s = m["books-merge"]
        if s["runs_ok"]:
            checks += [
                B.check("books-merge: book deltas merged by the gateway (the merge path ran)", s["book_deltas_merged"],
                        "> 0", s["book_deltas_merged"] > 0),
                B.check("books-merge: trades the gateway dropped = trades the stalled clients miss",
                        f"{s['trades_dropped_slow']:.0f} dropped, {s['trades_slow']['missing']} missing", "equal",
                        s["trades_dropped_slow"] == s["trades_slow"]["missing"]),
            ]
        if "books_cpu_per_message_vs_fanout" in data:
            checks.append(B.check("books ÷ fanout gateway CPU per delivered message (medians)",
                                  round(data["books_cpu_per_message_vs_fanout"], 2), "reported", True, "×"))
        data["checks"] = checks
        for v in variants:
            s = m[v]
            if s["runs_ok"]:
                B.log(f"  median {v}: {s['delivered_per_s']:,.0f} msgs/s, gateway {s['cpu_us_per_message']:.2f} µs/msg, "
                      f"p99 {s['p99_ms']:.2f} ms")
        return data

    def bookcost(self):
        """Issue 13's target: CPU per delivered book message within 1.2x of a ticker message. One
        gateway configuration for both arms (books and tickers both published), clients subscribed
        to book views only or to tickers only, at about the same delivered rate; ABBA order."""
        a = self.a
        gateway = ["--book-rate", a.cost_book_rate, "--trade-rate", 0]
        variants = {
            "book": {"rate": a.cost_ticker_rate, "gateway": gateway, "topics": 3 * a.symbols,
                     "load": ["--draw", "book.*=1", "--draw", "book50.*=1"]},
            "ticker": {"rate": a.cost_ticker_rate, "gateway": gateway, "topics": 3 * a.symbols,
                       "load": ["--draw", "ticker.*=2"]},
        }
        settings = {"connections": a.connections, "symbols": a.symbols, "ticker_rate": a.cost_ticker_rate,
                    "book_rate": a.cost_book_rate, "rounds": a.rounds, "duration_s": a.book_duration,
                    "load_threads": a.load_threads, "gateway_threads": a.gateway_threads}
        data = self.result("bookcost", settings)
        runs = self.run_interleaved("bookcost", variants, lambda r: ["book", "ticker"] if r % 2 == 0 else ["ticker", "book"])
        data["runs"] = runs
        data["medians"] = {v: summarize([x["figures"] for x in runs if x["variant"] == v]) for v in variants}
        book, ticker = data["medians"]["book"], data["medians"]["ticker"]
        per_round = []
        for r in range(1, a.rounds + 1):
            f = {x["variant"]: x["figures"] for x in runs if x["round"] == r}
            if f.get("book", {}).get("ok") and f.get("ticker", {}).get("ok") and f["ticker"]["cpu_us_per_message"]:
                per_round.append(f["book"]["cpu_us_per_message"] / f["ticker"]["cpu_us_per_message"])
        data["ratio_per_round"] = per_round
        checks = []
        if book["runs_ok"] and ticker["runs_ok"]:
            ratio = book["cpu_us_per_message"] / ticker["cpu_us_per_message"]
            data["ratio_of_medians"] = ratio
            data["delivered_ratio"] = book["delivered_per_s"] / ticker["delivered_per_s"]
            checks += [
                B.check("gateway CPU per delivered book message ÷ ticker message (medians)", round(ratio, 3), 1.2,
                        ratio <= 1.2, "×"),
                B.check("delivered msgs/s, book arm ÷ ticker arm (similar rates)", round(data["delivered_ratio"], 3),
                        "0.8–1.25", 0.8 <= data["delivered_ratio"] <= 1.25, "×"),
                B.check("book arm: chain breaks + checksum failures",
                        book["books"]["chain_breaks"] + book["books"]["checksum_failures"], 0,
                        book["books"]["chain_breaks"] + book["books"]["checksum_failures"] == 0),
            ]
            B.log(f"  medians: book {book['cpu_us_per_message']:.2f} µs/msg at {book['delivered_per_s']:,.0f} msgs/s, "
                  f"ticker {ticker['cpu_us_per_message']:.2f} µs/msg at {ticker['delivered_per_s']:,.0f} msgs/s: "
                  f"ratio {ratio:.3f} (per round {', '.join(f'{x:.3f}' for x in per_round)})")
        else:
            checks.append(B.check("bookcost runs", "an arm had no successful run", "ok", False))
        data["checks"] = checks
        return data

    def throttle(self):
        """Issue 18: 1,000 clients on ticker.*@1000ms against raw ticker.*, one gateway worker, in
        interleaved rounds: the gateway CPU saved. The throttled arm also runs with fewer clients on
        the same (topic, interval) pairs: its streams stay one per pair, and its CPU per delivered
        message stays what the sends cost. bench/throttle_bench isolates the per-pair work."""
        a = self.a
        counts = sorted(int(x) for x in a.throttle_clients.split(","))
        most = counts[-1]
        variants = {"raw": ("ticker.*", most)}
        for n in counts:
            variants[f"t1000-{n}"] = ("ticker.*@1000ms", n)
        settings = {"clients": counts, "symbols": a.throttle_symbols, "rate": a.throttle_rate, "rounds": a.rounds,
                    "duration_s": a.book_duration, "gateway_threads": a.gateway_threads, "load_threads": a.load_threads}
        data = self.result("throttle", settings)
        runs = []
        names = list(variants)
        for r in range(a.rounds):
            for v in (names if r % 2 == 0 else names[::-1]):
                entry, clients = variants[v]
                label = f"throttle-{v}-{r + 1}"
                before = B.loadavg()
                load, gw = self.measure(label, a.throttle_rate, clients,
                                        ["--topics", entry, "--duration", a.book_duration, "--warmup", 3,
                                         "--connect-rate", 2000],
                                        timeout=a.book_duration + clients / 500 + 60, per_connection=1,
                                        symbols=a.throttle_symbols, scrape_at=clients / 2000 + 3 + a.book_duration / 2)
                f = throttle_figures(load, gw, clients)
                runs.append({"variant": v, "round": r + 1, "loadavg_before": before, "loadavg_after": B.loadavg(),
                             "figures": f, "load": load, "gateway": gw})
                if f["ok"]:
                    B.log(f"  {label}: {f['delivered_per_s']:>9,.0f} msgs/s ({f['per_client_per_s']:.1f} a client), "
                          f"gateway {100 * f['gateway_cpu_util']:.1f}% cpu, {f['cpu_us_per_message']:.2f} µs/msg, "
                          f"p50 {f['p50_ms']:.1f} p99 {f['p99_ms']:.1f} ms; streams {f['throttled_streams']}, "
                          f"gaps {f['gaps']}, duplicates {f['duplicates']}, reordered {f['reordered']}; "
                          f"load avg {before[0]:.1f}")
                else:
                    B.log(f"  {label}: failed: {f['error']}")
        data["runs"] = runs
        med = {}
        for v in variants:
            ok = [x["figures"] for x in runs if x["variant"] == v and x["figures"]["ok"]]
            med[v] = {"runs_ok": len(ok)}
            for k in ("delivered_per_s", "per_client_per_s", "gateway_cpu_util", "cpu_us_per_message", "p50_ms",
                      "p99_ms", "throttled_streams", "load_cpu_us_per_message"):
                med[v][k] = B.median([f[k] for f in ok]) if ok else None
            for k in ("gaps", "duplicates", "reordered", "disconnects"):
                med[v][k] = sum(f[k] for f in ok)
        data["medians"] = med
        raw, t = med["raw"], med[f"t1000-{most}"]
        checks = []
        if not (raw["runs_ok"] and t["runs_ok"]):
            checks.append(B.check("throttle runs", "an arm had no successful run", "ok", False))
            data["checks"] = checks
            return data
        saved = 1 - t["gateway_cpu_util"] / raw["gateway_cpu_util"]
        data["cpu_saved"] = saved
        per_round = []
        for r in range(1, a.rounds + 1):
            f = {x["variant"]: x["figures"] for x in runs if x["round"] == r}
            if f.get("raw", {}).get("ok") and f.get(f"t1000-{most}", {}).get("ok"):
                per_round.append(1 - f[f"t1000-{most}"]["gateway_cpu_util"] / f["raw"]["gateway_cpu_util"])
        data["cpu_saved_per_round"] = per_round
        expected_raw = a.throttle_rate * most
        checks += [
            B.check(f"raw ticker.*: delivered (≥ 95% of {expected_raw:,.0f} offered)", round(raw["delivered_per_s"]),
                    round(0.95 * expected_raw), raw["delivered_per_s"] >= 0.95 * expected_raw, "msg/s"),
            B.check("raw ticker.*: seq gaps", raw["gaps"], 0, raw["gaps"] == 0),
            B.check(f"gateway CPU saved by ticker.*@1000ms at {most} clients (medians)", round(100 * saved, 1),
                    "reported", saved > 0, "%"),
        ]
        for n in counts:
            m = med[f"t1000-{n}"]
            if not m["runs_ok"]:
                checks.append(B.check(f"t1000-{n}: runs", "none succeeded", "ok", False))
                continue
            checks += [
                # A tick that finds no new update sends nothing, so a little under one a second; a
                # window of W seconds holds W or W + 1 ticks.
                B.check(f"t1000-{n}: messages a client per second (one per topic and second at most)",
                        round(m["per_client_per_s"], 2), f"0.9–{(a.book_duration + 1) / a.book_duration:.2f} × {a.throttle_symbols}",
                        0.9 * a.throttle_symbols <= m["per_client_per_s"]
                        <= (a.book_duration + 1) / a.book_duration * a.throttle_symbols, "msg/s"),
                B.check(f"t1000-{n}: duplicates + reordered", m["duplicates"] + m["reordered"], 0,
                        m["duplicates"] + m["reordered"] == 0),
                B.check(f"t1000-{n}: receive - ts p99 (≤ interval + 5 ms)", round(m["p99_ms"], 1), 1005,
                        m["p99_ms"] <= 1005, "ms"),
                B.check(f"t1000-{n}: throttled streams (one per topic and interval, whatever the clients)",
                        m["throttled_streams"], a.throttle_symbols, m["throttled_streams"] == a.throttle_symbols),
            ]
        data["checks"] = checks
        B.log(f"  medians: raw {100 * raw['gateway_cpu_util']:.1f}% cpu at {raw['delivered_per_s']:,.0f} msgs/s; "
              + "; ".join(f"{v} {100 * med[v]['gateway_cpu_util']:.1f}% cpu at {med[v]['delivered_per_s']:,.0f} msgs/s "
                          f"({med[v]['cpu_us_per_message']:.2f} µs/msg)" for v in variants if v != "raw" and med[v]["runs_ok"])
              + f"; saved {100 * saved:.1f}% (per round {', '.join(f'{100 * x:.1f}' for x in per_round)})")
        return data


def throttle_figures(load, gw, clients):
    """The figures of one throttle run."""
    if not load.get("ok"):
        return {"ok": False, "error": load.get("error")}
    seq, metrics = load["seq"]["normal"], gw.get("metrics", {})
    return {
        "ok": True,
        "delivered_per_s": load["messages"]["per_s"],
        "per_client_per_s": load["messages"]["per_s"] / clients,
        "gateway_cpu_util": load["targets"][0]["cpu_util"],
        "cpu_us_per_message": load["targets_total"]["cpu_us_per_message"],
        "load_cpu_us_per_message": load["self"]["cpu_us_per_message"],
        "p50_ms": load["latency"]["normal"]["p50_ms"],
        "p99_ms": load["latency"]["normal"]["p99_ms"],
        "gaps": seq["gaps"],
        "duplicates": seq["duplicates"],
        "reordered": seq["reordered"],
        "disconnects": load["connections"]["disconnects"]["total"],
        "throttled_streams": gw.get("metrics_during", {}).get("tickgate_throttled_streams"),
        "throttled_messages": metrics.get("tickgate_throttled_messages_total"),
        "frames_encoded": metrics.get("tickgate_throttled_frames_encoded_total"),
        "feed_rate_actual": gw.get("feed_rate_actual"),
    }


def book_figures(load, gw):
    """The figures of one books/bookcost run."""
    if not load.get("ok"):
        return {"ok": False, "error": load.get("error")}
    m, metrics = load["messages"], gw.get("metrics", {})
    return {
        "ok": True,
        "delivered_per_s": m["per_s"],
        "window_s": load["window_s"],
        "tickers": m.get("delivered_tickers", m["delivered"]),
        "book_deltas": m.get("delivered_book_deltas", 0),
        "trades": m.get("delivered_trades", 0),
        "bytes_per_s": m["bytes_per_s"],
        "cpu_us_per_message": load["targets_total"]["cpu_us_per_message"],
        "gateway_cpu_util": load["targets"][0]["cpu_util"],
        "load_cpu_us_per_message": load["self"]["cpu_us_per_message"],
        "load_saturated": load["self"]["saturated"],
        "p50_ms": load["latency"]["normal"]["p50_ms"],
        "p99_ms": load["latency"]["normal"]["p99_ms"],
        "books": load["books"]["all"],
        "books_slow": load["books"]["slow"],
        "trades_normal": load["trades"]["normal"],
        "trades_slow": load["trades"]["slow"],
        "ticker_gaps_normal": load["seq"]["normal"]["gaps"],
        "disconnects": load["connections"]["disconnects"],
        "book_deltas_merged": metrics.get("tickgate_book_deltas_merged_total"),
        "trades_dropped_slow": metrics.get("tickgate_trades_dropped_slow_total"),
        "messages_conflated": metrics.get("tickgate_messages_conflated_total"),
        "feed_rate_actual": gw.get("feed_rate_actual"),
    }


def sum_counts(dicts):
    """Field-wise sums of count objects (nested ones too, e.g. books' book50 part)."""
    out = {}
    for k, v in dicts[0].items():
        out[k] = sum_counts([d[k] for d in dicts]) if isinstance(v, dict) else sum(d[k] for d in dicts)
    return out


def summarize(figures):
    """Medians of the rates and costs, sums of the fault counts, over the successful runs."""
    ok = [f for f in figures if f["ok"]]
    out = {"runs": len(figures), "runs_ok": len(ok)}
    if not ok:
        return out
    for k in ("delivered_per_s", "cpu_us_per_message", "gateway_cpu_util", "load_cpu_us_per_message", "p50_ms",
              "p99_ms", "bytes_per_s"):
        out[k] = B.median([f[k] for f in ok])
    for k in ("tickers", "book_deltas", "trades"):
        out[k + "_per_s"] = B.median([f[k] / f["window_s"] for f in ok if f["window_s"]])
    for k in ("books", "books_slow", "trades_normal", "trades_slow"):
        out[k] = sum_counts([f[k] for f in ok])
    out["ticker_gaps_normal"] = sum(f["ticker_gaps_normal"] for f in ok)
    out["disconnects"] = sum(f["disconnects"]["total"] for f in ok)
    out["load_saturated_runs"] = sum(1 for f in ok if f["load_saturated"])
    for k in ("book_deltas_merged", "trades_dropped_slow", "messages_conflated"):
        out[k] = sum(f[k] or 0 for f in ok)
    return out


def main():
    B.exit_on_sigterm()
    a = parse_args()
    r = Runner(a)
    B.log(f"results in {a.out}; load average {B.loadavg()}; build {r.build.get('commit', '?')}")
    for name in SCENARIOS:
        if name not in a.only:
            continue
        B.log(f"scenario {name}")
        r.save(name, getattr(r, name)())
    B.log(f"done; report: bench/report/report.sh --results {a.out}")


if __name__ == "__main__":
    main()
