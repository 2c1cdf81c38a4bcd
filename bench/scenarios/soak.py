#!/usr/bin/python3
"""Soak (issue 19): one gateway for a long time at half the fanout load, with clients coming and
going and clients that stall, sampled every --sample-s: does anything leak?

    bench/scenarios/soak.sh [--duration-min 60] [--sample-s 60] [--clients 500] [--rate 1000]
                            [--churners N] [--stalled N] [--build DIR | --tickgate BIN --load BIN] [--out DIR]

Three tickgate-load processes against one tickgate (one I/O worker, its simulator: --symbols 100
at --rate 1,000 updates/s):

- normal: --clients (500) x 10 of 100 topics, ~50k msgs/s delivered, one window of the whole soak;
  its seq gaps, disconnects, failed connections and error messages must all be 0;
- churn: --churners (2 % of the clients) loops of connect, TLS, upgrade, subscribe, ack, close
  (one tickgate-load --churn process for the whole soak). --churn does not pace its cycles: 10
  loops would take both cores (~1,500 cycles/s) and the one gateway worker would fall behind and
  shed ticker updates (tickgate_updates_skipped_behind_total), so the process runs --churn-on-s
  (50 ms) of every second and is stopped (SIGSTOP) the rest;
- stalled: --stalled (1 % of the clients) that never read (--slow-mode stall, SO_RCVBUF 4 KiB), in
  rounds of --stall-round-s: the gateway closes them by its slow-client rules (1008, or the
  heartbeat timeout when the kernel's buffers still absorb what it writes), a new round opens new ones.

Every --sample-s: the gateway's VmRSS (/proc/PID/status), open descriptors (/proc/PID/fd), and from
/metrics tickgate_connections, tickgate_slow_consumer_disconnects_total,
tickgate_heartbeat_timeouts_total and more. Before the load and after every client has left, the
idle gateway's descriptors are counted too. Writes OUT/soak.json (settings, samples, summary,
checks), OUT/soak.csv (the samples) and OUT/soak.svg (RSS and descriptors against time); raw logs
and tickgate-load results under OUT/raw/.

Targets: RSS drift <= 1 % after the warm-up (--warmup-min, 5): (max RSS after minute 5 - RSS at
minute 5) / RSS at minute 5, also reported as last vs minute 5; 0 errors and 0 gaps for normal
clients; descriptors not growing: the idle count after the soak (every client gone) no more than
before it, and during it descriptors - connections (the gateway's own, plus connections still in
their TLS or HTTP handshake: up to --churners + --stalled) at no later sample more than at minute 5
+ --churners + --stalled + --fd-margin.
tests/e2e/soak_short.py runs the same mix for 2 minutes (ctest e2e_soak_short).
"""

import argparse
import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

CSV_FIELDS = ["t_s", "minute", "rss_kib", "fds", "connections", "fds_minus_connections", "slow_disconnects",
              "heartbeat_timeouts", "websocket_accepted", "conflated", "feed_updates", "feed_dropped_late",
              "skipped_behind", "stall_rounds", "load1"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=B.DEFAULT_BUILD, help="build directory with tickgate and bench/load/tickgate-load "
                   "(default $TICKGATE_BUILD_DIR or build-bench; built Release there when missing)")
    p.add_argument("--tickgate", default=os.environ.get("TICKGATE_BIN"),
                   help="the gateway binary (default $TICKGATE_BIN, else BUILD/tickgate)")
    p.add_argument("--load", default=os.environ.get("TICKGATE_LOAD_BIN"),
                   help="tickgate-load (default $TICKGATE_LOAD_BIN, else BUILD/bench/load/tickgate-load)")
    p.add_argument("--out", default=B.DEFAULT_OUT, help="result directory (default bench/results)")
    p.add_argument("--duration-min", type=float, default=60, help="minutes of load (default 60)")
    p.add_argument("--sample-s", type=float, default=60, help="seconds between samples (default 60)")
    p.add_argument("--warmup-min", type=float, default=5,
                   help="the reference sample for drift and descriptors, in minutes from the start (default 5)")
    p.add_argument("--warmup-updates", type=int, default=65536,
                   help="... and not before the gateway has taken this many updates (default 65,536: its ring, "
                        "whose pages are touched as it first fills)")
    p.add_argument("--clients", type=int, default=500, help="normal clients (default 500: half of fanout's 1,000)")
    p.add_argument("--per-connection", type=int, default=10)
    p.add_argument("--symbols", type=int, default=100)
    p.add_argument("--rate", type=float, default=1000, help="feed updates/s over all symbols (default 1,000)")
    p.add_argument("--churners", type=int, help="churn loops (default 2 %% of --clients, at least 1)")
    p.add_argument("--churn-on-s", type=float, default=0.05,
                   help="seconds of every second the churn process runs (default 0.05; it is stopped the rest: "
                        "tickgate-load --churn does not pace its cycles)")
    p.add_argument("--stalled", type=int, help="stalled clients per round (default 1 %% of --clients, at least 1)")
    p.add_argument("--stall-round-s", type=float, default=90,
                   help="seconds a round of stalled clients lasts (default 90: the gateway's default heartbeat, "
                        "3 x 20 s, closes them before)")
    p.add_argument("--gateway-threads", type=int, default=1)
    p.add_argument("--load-threads", type=int, default=1)
    p.add_argument("--gateway-arg", action="append", default=[],
                   help="extra tickgate flag (repeatable), e.g. --gateway-arg=--heartbeat-ms=5000")
    p.add_argument("--rss-drift-limit", type=float, default=1.0, help="%% (default 1)")
    p.add_argument("--fd-margin", type=int, default=2,
                   help="descriptors - connections beyond minute 5's + churners + stalled that still pass "
                        "(default 2: a connection accepted or closed between the two reads)")
    a = p.parse_args(argv)
    if a.churners is None:
        a.churners = max(1, round(a.clients * 0.02))
    if a.stalled is None:
        a.stalled = max(1, round(a.clients * 0.01))
    return a


def binaries(a):
    if a.tickgate and a.load:
        return a.tickgate, a.load
    tickgate, load = B.binaries(a.build)
    return a.tickgate or tickgate, a.load or load


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def fd_kinds(pid):
    """{what: count} of the open descriptors (socket, pipe, anon_inode:[eventfd], a file's path...)."""
    out = {}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                what = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            what = what.split(":[")[0] if what.startswith(("socket:", "pipe:")) else what
            out[what] = out.get(what, 0) + 1
    except OSError:
        pass
    return out


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def file_info(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return {"path": os.path.abspath(path), "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
            "sha256_16": digest}


class Repeater(threading.Thread):
    """Runs tickgate-load again and again (`argv(i)` for run i) at t0 + offset + i * every, while a
    run can still end by `until`; sums what each result reports."""

    def __init__(self, name, load, url, raw, argv, t0, offset, every, length, until, on_result):
        super().__init__(daemon=True, name=name)
        self.load, self.url, self.raw, self.argv = load, url, raw, argv
        self.t0, self.offset, self.every, self.length, self.until = t0, offset, every, length, until
        self.on_result, self.runs, self.stop_event = on_result, 0, threading.Event()

    def run(self):
        i = 0
        while not self.stop_event.is_set():
            start = self.t0 + self.offset + i * self.every
            if start - self.t0 + self.length > self.until:
                return
            if self.stop_event.wait(max(0.0, start - time.time())):
                return
            out = os.path.join(self.raw, f"{self.name}.load.json")  # the last run's result stays
            result = B.run_load(self.load, self.url, [], out, [*self.argv, "--label", f"{self.name}-{i}"],
                                timeout=self.length + 60, log_path=os.path.join(self.raw, f"{self.name}.load.log"))
            self.runs += 1
            self.on_result(i, result)
            i += 1


class Churner(threading.Thread):
    """One tickgate-load --churn process for the whole soak, paced from outside: tickgate-load
    does not pace churn cycles (each starts as the last one closes), so the process is resumed
    (SIGCONT) for `on_s` of every second and stopped (SIGSTOP) for the rest, from `phase` s past
    each whole second since t0 on: samples, on whole seconds, find it stopped. Its handshake
    timeout (10 s) outlasts a stop; the gateway's (5 s) too."""

    def __init__(self, load, url, raw, argv, t0, phase, on_s, duration):
        super().__init__(daemon=True, name="soak-churn")
        self.out = os.path.join(raw, "soak-churn.load.json")
        self.log_path = os.path.join(raw, "soak-churn.load.log")
        self.argv = [load, "--url", url, "--out", self.out, "--quiet", *map(str, argv)]
        self.t0, self.phase, self.on_s, self.duration = t0, phase, on_s, duration
        self.result, self.stop_event, self.proc = None, threading.Event(), None

    def run(self):
        with open(self.log_path, "w") as log_file:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=log_file, text=True,
                                         preexec_fn=B._raise_nofile)
            try:
                k = 0
                while self.proc.poll() is None and not self.stop_event.is_set():
                    start = self.t0 + self.phase + k
                    k += 1
                    if start < time.time():
                        continue
                    self.stop_event.wait(start - time.time())
                    self._signal(signal.SIGCONT)
                    self.stop_event.wait(self.on_s)
                    if time.time() - self.t0 < self.duration:  # near its end it runs freely
                        self._signal(signal.SIGSTOP)
            finally:
                self._signal(signal.SIGCONT)
                if self.stop_event.is_set():
                    self._signal(signal.SIGINT)
                try:
                    stdout, _ = self.proc.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    stdout, _ = self.proc.communicate()
        try:
            with open(self.out) as f:
                self.result = json.load(f)
        except (OSError, ValueError):
            self.result = {"ok": False, "error": f"no result (exit {self.proc.returncode}): {(stdout or '')[-500:]}"}

    def _signal(self, sig):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


def socket_details(pid):
    """The gateway's TCP sockets as 'local remote state' lines (from /proc/PID/net/tcp*), for a
    record of what is still open when the clients have gone."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                what = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if what.startswith("socket:["):
                inodes.add(what[8:-1])
    except OSError:
        return []
    states = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}

    def addr(hex_addr):
        ip, port = hex_addr.split(":")
        return ".".join(str(int(ip[i:i + 2], 16)) for i in (6, 4, 2, 0)) + f":{int(port, 16)}" if len(ip) == 8 \
            else f"[v6]:{int(port, 16)}"

    out = []
    for table in ("tcp", "tcp6"):
        try:
            lines = open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[9] in inodes:
                out.append(f"{addr(f[1])} {addr(f[2])} {states.get(f[3], f[3])}")
                inodes.discard(f[9])
    out += [f"socket inode {i} (not TCP)" for i in sorted(inodes)]
    return out


def run_soak(a, tickgate, load, out, log=B.log, at_end=None):
    """The soak itself: returns the result (also written to OUT/soak.json, .csv, .svg). at_end(gw),
    if given, runs once every client has gone, before the gateway stops: what it returns, or the
    exception it raised, is the result's "at_end"."""
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    cert, key = B.certificate(out)
    duration = a.duration_min * 60
    backend = os.environ.get("TICKGATE_IO_BACKEND")
    extra = ["--threads", str(a.gateway_threads), *(["--io-backend", backend] if backend else []), *a.gateway_arg]
    settings = {k: v for k, v in vars(a).items()}
    data = {"scenario": "soak", "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg_before": B.loadavg(), "settings": settings,
            "binaries": {"tickgate": file_info(tickgate), "tickgate-load": file_info(load)},
            "expected_per_s": B.expected_per_s(a.rate, a.symbols, a.clients, a.per_connection), "samples": []}
    gw = B.start_tickgate(tickgate, cert, key, os.path.join(raw, "soak.gateway.log"), a.rate, a.symbols,
                          max_connections=a.clients + a.churners + a.stalled, extra=extra)
    murl = gw.metrics_url()
    stall = {"rounds": 0, "established": 0, "disconnects_seen": {}, "open_at_round_end": 0, "failed_runs": []}
    lock = threading.Lock()

    def on_stall(i, r):
        with lock:
            stall["rounds"] += 1
            if not r.get("ok"):
                stall["failed_runs"].append({"run": i, "error": r.get("error")})
                return
            c = r["connections"]
            stall["established"] += c["established"]
            stall["open_at_round_end"] += c["open_at_end"]
            for code, n in c["disconnects"]["by_code"].items():
                stall["disconnects_seen"][code] = stall["disconnects_seen"].get(code, 0) + n

    threads, alive, churner = [], False, None
    load_result = {"ok": False, "error": "the soak ended before tickgate-load returned"}
    try:
        time.sleep(1)
        idle0 = {"fds": fd_count(gw.pid), "rss_kib": rss_kib(gw.pid), "kinds": fd_kinds(gw.pid)}
        m0 = B.scrape_metrics(murl)
        data["idle_before"] = idle0
        log(f"soak: {a.clients} clients x {a.per_connection} of {a.symbols} topics at {a.rate:g} updates/s "
            f"(~{data['expected_per_s']:,.0f} msgs/s), {a.churners} churning ({a.churn_on_s * 1000:g} ms of every "
            f"second), {a.stalled} stalled per {a.stall_round_s:g} s round; {a.duration_min:g} min, "
            f"a sample every {a.sample_s:g} s; idle gateway: {idle0['fds']} descriptors, {idle0['rss_kib']} KiB")
        results = {}
        t0 = time.time()
        normal = threading.Thread(daemon=True, target=lambda: results.update(normal=B.run_load(
            load, gw.url, [gw.pid], os.path.join(raw, "soak-normal.load.json"),
            ["--connections", a.clients, "--per-connection", a.per_connection, "--duration", duration,
             "--warmup", 2, "--connect-rate", 500, "--threads", a.load_threads, "--label", "soak-normal"],
            timeout=duration + a.clients / 500 + 120, log_path=os.path.join(raw, "soak-normal.load.log"))))
        normal.start()
        threads.append(normal)
        # Churn runs from 0.3 s past each whole second for --churn-on-s, stall rounds from 5 s on:
        # samples (on multiples of --sample-s) find the churn process stopped.
        churner = Churner(load, gw.url, raw,
                          ["--churn", "--connections", a.churners, "--per-connection", a.per_connection,
                           "--duration", duration - 5, "--connect-rate", 0, "--threads", 1, "--label", "soak-churn"],
                          t0, 0.3, a.churn_on_s, duration - 5)
        staller = Repeater("soak-stall", load, gw.url, raw,
                           ["--connections", a.stalled, "--per-connection", a.per_connection, "--slow-fraction", 1,
                            "--slow-mode", "stall", "--slow-rcvbuf", 4096, "--slow-drain", 1,
                            "--duration", a.stall_round_s, "--warmup", 0, "--threads", 1],
                           t0, 5, a.stall_round_s + 3, a.stall_round_s + 3, duration, on_stall)
        for t in (churner, staller):
            t.start()
            threads.append(t)

        def sample(t_s):
            m = B.scrape_metrics(murl)
            fds, rss = fd_count(gw.pid), rss_kib(gw.pid)
            conns = m.get("tickgate_connections")
            conns = int(conns) if conns is not None else None
            with lock:
                rounds = stall["rounds"]
            s = {"t_s": round(t_s, 1), "minute": round(t_s / 60, 2), "rss_kib": rss, "fds": fds, "connections": conns,
                 "fds_minus_connections": fds - conns if fds is not None and conns is not None else None,
                 "slow_disconnects": m.get("tickgate_slow_consumer_disconnects_total", 0) -
                 m0.get("tickgate_slow_consumer_disconnects_total", 0),
                 "heartbeat_timeouts": m.get("tickgate_heartbeat_timeouts_total", 0) -
                 m0.get("tickgate_heartbeat_timeouts_total", 0),
                 "websocket_accepted": m.get('tickgate_connections_total{result="websocket"}', 0) -
                 m0.get('tickgate_connections_total{result="websocket"}', 0),
                 "conflated": m.get("tickgate_messages_conflated_total", 0),
                 "feed_updates": m.get("tickgate_feed_updates_total", 0),
                 "feed_dropped_late": m.get("tickgate_feed_updates_dropped_late_total", 0),
                 "skipped_behind": m.get("tickgate_updates_skipped_behind_total", 0),
                 "stall_rounds": rounds, "load1": B.loadavg()[0]}
            data["samples"].append(s)
            log(f"  {s['minute']:6.2f} min: RSS {rss} KiB, {fds} descriptors, {conns} connections "
                f"(own {s['fds_minus_connections']}), closed slow {s['slow_disconnects']:.0f} / heartbeat "
                f"{s['heartbeat_timeouts']:.0f}, accepted {s['websocket_accepted']:.0f}, skipped behind "
                f"{s['skipped_behind']:.0f}, load {s['load1']}")
            write_outputs(out, data)

        k = 0
        while k * a.sample_s <= duration + 0.01:
            wait = t0 + k * a.sample_s - time.time()
            if wait > 0:
                time.sleep(wait)
            if not gw.alive():
                log("the gateway exited during the soak")
                break
            sample(time.time() - t0)
            k += 1
        for t in threads:
            t.join(a.stall_round_s + 180)
        load_result = results.get("normal", {"ok": False, "error": "tickgate-load did not return"})
        # Every client gone: the idle gateway's descriptors again.
        deadline = time.time() + 60
        while gw.alive() and time.time() < deadline and B.scrape_metrics(murl).get("tickgate_connections", 1) > 0:
            time.sleep(0.5)
        # Then until the descriptors are back to the idle count (a closing connection may take the
        # gateway's close grace or handshake timeout), at most 20 s.
        t_idle = time.time()
        while gw.alive() and time.time() < t_idle + 20 and (fd_count(gw.pid) or 0) > idle0["fds"]:
            time.sleep(0.5)
        # The descriptors first, then the scrape: the metrics server's socket for that request
        # would be counted otherwise (CI saw one "socket" more, not in /proc/net/tcp, once).
        kinds = fd_kinds(gw.pid)
        idle_fds, tcp = fd_count(gw.pid), socket_details(gw.pid)
        m1 = B.scrape_metrics(murl) if gw.alive() else {}
        data["idle_after"] = {"fds": idle_fds, "rss_kib": rss_kib(gw.pid),
                              "connections": m1.get("tickgate_connections"), "kinds": kinds,
                              "waited_s": round(time.time() - t_idle, 1), "tcp": tcp,
                              "kinds_added": {k: v - idle0["kinds"].get(k, 0) for k, v in kinds.items()
                                              if v > idle0["kinds"].get(k, 0)}}
        data["metrics_end"] = {k: v for k, v in m1.items() if "{" not in k}
        if at_end:
            try:
                data["at_end"] = {"ok": True, "result": at_end(gw)}
            except Exception as e:  # noqa: BLE001 (recorded, judged by the caller)
                data["at_end"] = {"ok": False, "error": repr(e)}
        alive = gw.alive()
    finally:
        for t in threads:
            if isinstance(t, (Repeater, Churner)):
                t.stop_event.set()
        for t in threads:
            if isinstance(t, Churner):
                t.join(90)
        status = gw.stop()
    data["gateway"] = {"alive_at_end": alive, "exit_status": status, "argv": gw.proc.args}
    data["normal"] = load_result
    cr = churner.result if churner and churner.result else {"ok": False, "error": "the churn process did not return"}
    data["churn_load"], data["stall"] = cr, stall
    data["loadavg_after"] = B.loadavg()
    data["summary"] = summarize(a, data)
    data["checks"] = checks(a, data)
    write_outputs(out, data)
    return data


def reference(a, samples):
    """The first sample at or after --warmup-min once the gateway has taken --warmup-updates
    updates: its ring (the last 65,536 updates) is touched page by page as it first fills, so RSS
    grows by design until then (~9 MB: 66 s at 1,000 updates/s, 5.5 min at 200)."""
    return next((s for s in samples if s["t_s"] >= a.warmup_min * 60 - 0.5 and
                 s.get("feed_updates", 0) >= a.warmup_updates), None)


def summarize(a, data):
    samples = [s for s in data["samples"] if s["rss_kib"] is not None]
    ref = reference(a, samples)
    out = {"samples": len(samples)}
    if ref and samples:
        later = [s for s in samples if s["t_s"] >= ref["t_s"]]
        top = max(later, key=lambda s: s["rss_kib"])
        last = samples[-1]
        out.update({
            "reference_minute": ref["minute"], "rss_ref_kib": ref["rss_kib"], "rss_max_kib": top["rss_kib"],
            "rss_max_minute": top["minute"], "rss_last_kib": last["rss_kib"], "last_minute": last["minute"],
            "rss_first_kib": samples[0]["rss_kib"],
            "rss_drift_pct": round((top["rss_kib"] - ref["rss_kib"]) * 100 / ref["rss_kib"], 3),
            "rss_last_vs_ref_pct": round((last["rss_kib"] - ref["rss_kib"]) * 100 / ref["rss_kib"], 3),
            "fds_ref": ref["fds"], "fds_max": max(s["fds"] for s in later), "fds_last": last["fds"],
            "own_fds_ref": ref["fds_minus_connections"],
            "own_fds_max": max(s["fds_minus_connections"] for s in later),
            "own_fds_last": last["fds_minus_connections"],
            "connections_ref": ref["connections"], "connections_last": last["connections"],
        })
    if len(samples) >= 2 and samples[-1]["t_s"] > samples[0]["t_s"]:
        out["feed_rate_actual"] = round((samples[-1]["feed_updates"] - samples[0]["feed_updates"]) /
                                        (samples[-1]["t_s"] - samples[0]["t_s"]), 1)
        out["expected_per_s_at_actual_feed_rate"] = round(data["expected_per_s"] * out["feed_rate_actual"] / a.rate)
    out["idle_fds_before"] = data.get("idle_before", {}).get("fds")
    out["idle_fds_after"] = data.get("idle_after", {}).get("fds")
    n = data["normal"]
    if n.get("ok"):
        c = n["connections"]
        out.update({
            "normal_gaps": n["seq"]["normal"]["gaps"], "normal_missing": n["seq"]["normal"]["missing"],
            "normal_duplicates": n["seq"]["normal"]["duplicates"], "normal_reordered": n["seq"]["normal"]["reordered"],
            "normal_error_messages": n["messages"]["errors"], "normal_disconnects": c["disconnects"]["total"],
            "normal_failed_connections": c["failures"]["total"], "normal_open_at_end": c["open_at_end"],
            "delivered_per_s": n["messages"]["per_s"], "latency_ms": n["latency"]["normal"],
            "window_s": n["window_s"], "gateway_cpu_util": (n.get("targets") or [{}])[0].get("cpu_util"),
            "gateway_cpu_us_per_message": n.get("targets_total", {}).get("cpu_us_per_message"),
        })
    last = data["samples"][-1] if data["samples"] else {}
    out.update({
        "churn_ok": data["churn_load"].get("ok"), "churn_error": data["churn_load"].get("error"),
        "churn_cycles": data["churn_load"].get("connections", {}).get("churn_cycles"),
        "churn_cycles_per_s": data["churn_load"].get("connections", {}).get("churn_cycles_per_s"),
        "churn_failures": data["churn_load"].get("connections", {}).get("failures", {}).get("total"),
        "churn_error_messages": data["churn_load"].get("messages", {}).get("errors"),
        "skipped_behind": last.get("skipped_behind"), "feed_dropped_late": last.get("feed_dropped_late"),
        "stall_rounds": data["stall"]["rounds"], "stalled_opened": data["stall"]["established"],
        "stalled_closed_slow_1008": last.get("slow_disconnects"),
        "stalled_closed_heartbeat": last.get("heartbeat_timeouts"),
        "stalled_disconnects_seen": data["stall"]["disconnects_seen"],
    })
    return out


def checks(a, data):
    s, n = data["summary"], data["normal"]
    out = []
    if "rss_drift_pct" in s:
        out.append(B.check(f"RSS drift after minute {s['reference_minute']:g}: (max - ref) / ref",
                           s["rss_drift_pct"], a.rss_drift_limit, s["rss_drift_pct"] <= a.rss_drift_limit, "%"))
        grown = s["own_fds_max"] - s["own_fds_ref"]
        # Connections of the churn and stall processes may be between accept and upgrade at a sample.
        margin = a.churners + a.stalled + a.fd_margin
        out.append(B.check("descriptors - connections: max after the reference minus at it", grown, margin,
                           grown <= margin))
    else:
        out.append(B.check("samples past the reference minute", s["samples"], "some", False))
    before, after = s.get("idle_fds_before"), s.get("idle_fds_after")
    out.append(B.check("idle descriptors after the soak minus before it", None if after is None else after - before, 0,
                       after is not None and after <= before))
    if not n.get("ok"):
        out.append(B.check("normal clients' run", n.get("error"), "ok", False))
    else:
        errors = s["normal_error_messages"] + s["normal_disconnects"] + s["normal_failed_connections"]
        out.append(B.check("normal clients: errors (error messages + disconnects + failed connections)", errors, 0,
                           errors == 0))
        out.append(B.check("normal clients: seq gaps", s["normal_gaps"], 0, s["normal_gaps"] == 0))
        # Offered: what the simulator really published (on a busy machine it runs late) to the
        # subscribers of each topic.
        offered = s.get("expected_per_s_at_actual_feed_rate") or data["expected_per_s"]
        out.append(B.check("normal clients: delivered/s (≥ 95% of what the feed published, fanned out)",
                           round(s["delivered_per_s"]), offered, s["delivered_per_s"] >= 0.95 * offered, "msg/s"))
    g = data["gateway"]
    out.append(B.check("gateway alive to the end, exit status 0", f"alive {g['alive_at_end']}, exit {g['exit_status']}",
                       "ok", g["alive_at_end"] and g["exit_status"] == 0))
    return out


def write_outputs(out, data):
    B.write_json(os.path.join(out, "soak.json"), data)
    tmp = os.path.join(out, "soak.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(data["samples"])
    os.replace(tmp, os.path.join(out, "soak.csv"))
    if len(data["samples"]) >= 2:
        with open(os.path.join(out, "soak.svg"), "w") as f:
            f.write(svg_plot(data))


# ---- a self-contained SVG line plot (no matplotlib here) ----

def _ticks(lo, hi, n=5):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    start = (lo // step) * step
    out, v = [], start
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    if out[-1] < hi:
        out.append(out[-1] + step)
    return out


def _esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _panel(x0, y0, w, h, xs, series, ylabel, xmax, marks=()):
    """One panel: series = [(label, colour, [y...])]; marks = [(x, label)] vertical dashed lines."""
    ys = [y for _, _, vals in series for y in vals if y is not None]
    yt = _ticks(min(ys), max(ys))
    ylo, yhi = yt[0], yt[-1]
    xt = _ticks(0, xmax)
    xhi = xt[-1]

    def px(x):
        return x0 + w * x / xhi

    def py(y):
        return y0 + h - h * (y - ylo) / (yhi - ylo)

    parts = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>']
    for v in yt:
        parts.append(f'<line x1="{x0}" y1="{py(v):.1f}" x2="{x0 + w}" y2="{py(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{x0 - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for v in xt:
        parts.append(f'<line x1="{px(v):.1f}" y1="{y0 + h}" x2="{px(v):.1f}" y2="{y0 + h + 4}" stroke="#444"/>')
        parts.append(f'<text x="{px(v):.1f}" y="{y0 + h + 17}" text-anchor="middle">{v:g}</text>')
    for x, label in marks:
        parts.append(f'<line x1="{px(x):.1f}" y1="{y0}" x2="{px(x):.1f}" y2="{y0 + h}" stroke="#888" '
                     f'stroke-dasharray="4 3"/><text x="{px(x) + 4:.1f}" y="{y0 + 12}" fill="#666">{_esc(label)}</text>')
    parts.append(f'<text transform="translate({x0 - 52},{y0 + h / 2}) rotate(-90)" text-anchor="middle">'
                 f'{_esc(ylabel)}</text>')
    for i, (label, colour, vals) in enumerate(series):
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, vals) if y is not None)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        for x, y in zip(xs, vals):
            if y is not None:
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.2" fill="{colour}"/>')
        lx = x0 + 10 + i * 230
        parts.append(f'<line x1="{lx}" y1="{y0 - 10}" x2="{lx + 18}" y2="{y0 - 10}" stroke="{colour}" '
                     f'stroke-width="2"/><text x="{lx + 24}" y="{y0 - 6}">{_esc(label)}</text>')
    return parts


def svg_plot(data):
    samples = data["samples"]
    s, st = data.get("summary", {}), data["settings"]
    xs = [x["minute"] for x in samples]
    xmax = max(xs[-1], st["duration_min"])
    ref = s.get("reference_minute", st["warmup_min"])
    rss = [x["rss_kib"] / 1024 if x["rss_kib"] is not None else None for x in samples]
    W, H, L = 860, 560, 80
    title = (f"tickgate soak {data['started_at'][:16].replace('T', ' ')} UTC: {st['clients']} clients, "
             f"{st['churners']} churning, {st['stalled']} stalled per round, {st['rate']:g} updates/s")
    sub = ""
    if "rss_drift_pct" in s:
        sub = (f"RSS at minute {s['reference_minute']:g} {s['rss_ref_kib'] / 1024:.1f} MiB, max after it "
               f"{s['rss_max_kib'] / 1024:.1f} MiB (drift {s['rss_drift_pct']:+.2f} %), last "
               f"{s['rss_last_kib'] / 1024:.1f} MiB ({s['rss_last_vs_ref_pct']:+.2f} %)")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{_esc(title)}</text>',
             f'<text x="{W / 2}" y="38" text-anchor="middle" fill="#444">{_esc(sub)}</text>']
    marks = [(ref, f"reference, minute {ref:g}")]
    parts += _panel(L, 70, W - L - 30, 180, xs, [("gateway RSS (MiB)", "#1f77b4", rss)], "MiB", xmax, marks)
    parts += _panel(L, 320, W - L - 30, 180, xs,
                    [("open descriptors", "#d62728", [x["fds"] for x in samples]),
                     ("connections (/metrics)", "#2ca02c", [x["connections"] for x in samples]),
                     ("descriptors - connections", "#9467bd", [x["fds_minus_connections"] for x in samples])],
                    "count", xmax, marks)
    parts.append(f'<text x="{L + (W - L - 30) / 2}" y="{H - 20}" text-anchor="middle">minutes since the load '
                 f'started</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)


def main():
    a = parse_args()
    B.exit_on_sigterm()
    tickgate, load = binaries(a)
    data = run_soak(a, tickgate, load, a.out)
    s = data["summary"]
    B.log("summary: " + ", ".join(f"{k} {v}" for k, v in s.items() if k != "latency_ms"))
    for c in data["checks"]:
        B.log(f"  {'PASS' if c['pass'] else 'MISS'} {c['target']}: {c['measured']} {c['unit']} (target {c['limit']})")
    B.log(f"results: {os.path.join(a.out, 'soak.json')}, soak.csv, soak.svg")
    return 0 if all(c["pass"] for c in data["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
