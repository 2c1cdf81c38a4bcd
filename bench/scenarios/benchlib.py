"""Shared pieces of the scenario runner (run.py) and the peer comparison (bench/peers/compare.py):
build paths, the benchmark certificate, starting a server and reading its URL from stderr, running
tickgate-load with a time bound, and small helpers for the result JSON. Standard library only, so
that Debian's /usr/bin/python3 runs it without extra packages."""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_BUILD = os.environ.get("TICKGATE_BUILD_DIR", os.path.join(ROOT, "build-bench"))
DEFAULT_OUT = os.path.join(ROOT, "bench", "results")


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def binaries(build_dir):
    """Paths of tickgate and tickgate-load in build_dir; builds them (Release, -j2) when missing."""
    tickgate = os.path.join(build_dir, "tickgate")
    load = os.path.join(build_dir, "bench", "load", "tickgate-load")
    if not (os.access(tickgate, os.X_OK) and os.access(load, os.X_OK)):
        log(f"building tickgate and tickgate-load (Release) in {build_dir}")
        subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                        "-DTICKGATE_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", build_dir, "--target", "tickgate", "tickgate-load", "-j2"], check=True)
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if os.path.exists(cache) and "CMAKE_BUILD_TYPE:STRING=Release" not in open(cache).read():
        log(f"warning: {build_dir} is not a Release build; figures will not be representative")
    return tickgate, load


def certificate(out_dir):
    """One ECDSA P-256 self-signed certificate for every server of every run (same TLS cost)."""
    d = os.path.join(out_dir, "cert")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "365", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def _raise_nofile():
    # Servers inherit the soft limit; 10,000 connections need it at the hard limit (20,000 here).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """A server process whose stderr goes to a log file; ready once `ready` (a regex with a URL
    group) appears there."""

    def __init__(self, name, argv, log_path, ready=r"listening on (wss?://\S+)", timeout=30, env=None):
        self.name, self.log_path = name, log_path
        self.log_file = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT, cwd=ROOT,
                                     preexec_fn=_raise_nofile, env=env)
        self.pid = self.proc.pid
        deadline = time.time() + timeout
        while True:
            text = open(log_path).read()
            m = re.search(ready, text)
            if m:
                self.url = m.group(1)
                self.text = text
                break
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start (see {log_path}):\n{text[-2000:]}")
            time.sleep(0.05)

    def metrics_url(self):
        m = re.search(r"metrics on (http://\S+)", open(self.log_path).read())
        return m.group(1) if m else None

    def rss_kib(self, field="VmRSS"):
        """Resident memory now, or with field="VmHWM" its peak so far."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


def start_tickgate(tickgate, cert, key, log_path, rate, symbols, max_connections=10000, extra=(), topics=None,
                   cpus=None):
    """topics: how many topics to wait for (default `symbols`, one ticker each; a simulator with
    books and trades publishes four per symbol: ticker, book, book50, trade). cpus: a taskset CPU
    list every thread of the gateway is kept on (None: wherever the scheduler puts them)."""
    state = tempfile.mkdtemp(prefix="tickgate-bench-")
    argv = [*pinned(cpus), tickgate, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--cert", cert, "--key", key,
            "--state-dir", state, "--symbols", str(symbols), "--rate", str(rate),
            # tickgate-load spreads clients over 127.0.0.2.. at 500 per address, under the default
            # per-IP limit of 1,000; the total limit must cover the scenario plus its topic query.
            "--max-connections", str(max_connections + 100), *extra]
    server = Server("tickgate", argv, log_path)
    wait_for_topics(server, topics or symbols, rate)
    return server


def wait_for_topics(server, symbols, rate):
    """Waits until the simulator has published every symbol once (tickgate_topics). tickgate-load
    draws each client's topics from the gateway's `list`, which names only the topics seen so far:
    at 10 updates/s over 100 symbols, a load started at once would find 4 topics and give every
    client those 4 instead of 10 of 100."""
    url = server.metrics_url()
    deadline = time.time() + symbols / rate * 1.5 + 5
    while time.time() < deadline:
        if scrape_metrics(url).get("tickgate_topics", 0) >= symbols:
            return
        time.sleep(0.1)
    log(f"warning: tickgate published fewer than {symbols} topics after {symbols / rate * 1.5 + 5:.0f} s")


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def exit_on_sigterm():
    """SIGTERM raises SystemExit, so the `finally` blocks stop the servers this script started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def scrape_metrics(url):
    """Counters and gauges from tickgate's /metrics: {name: value summed over labels} plus
    {name{labels}: value} for each labelled series."""
    out = {}
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError as e:
        return {"error": str(e)}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{")[0]
        if name.endswith("_bucket"):
            continue
        try:
            out[name] = out.get(name, 0) + float(value)
            if name_labels != name:
                out[name_labels] = float(value)  # e.g. connections_total{result="timeout"} as well
        except ValueError:
            pass
    return out


def histogram_buckets(url, name):
    """One histogram of tickgate's /metrics: {labels other than le, as written ("" for none):
    {le: cumulative count}}; {} when the scrape fails."""
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return {}
    out = {}
    for m in re.finditer(r'^' + re.escape(name) + r'_bucket\{([^}]*)\} (\S+)$', text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        le = labels.pop("le")
        series = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        out.setdefault(series, {})[float("inf") if le == "+Inf" else float(le)] = float(m.group(2))
    return out


def bucket_quantile(b0, b1, q):
    """The upper bound of the bucket holding quantile q of the observations between two scrapes
    (None when there were none; inf when it is past the last bound)."""
    les = sorted(b1)
    total = b1[les[-1]] - b0.get(les[-1], 0) if les else 0
    if total <= 0:
        return None
    for le in les:
        if b1[le] - b0.get(le, 0) >= q * total:
            return le
    return les[-1]


def latency_split_buckets(url):
    """The gateway's latency split as histogram_buckets gives it: tickgate_latency_stage_seconds by
    stage, and the whole of it (tickgate_fanout_latency_seconds) as "fanout"."""
    out = histogram_buckets(url, "tickgate_latency_stage_seconds")
    whole = histogram_buckets(url, "tickgate_fanout_latency_seconds").get("")
    if whole:
        out["fanout"] = whole
    return out


def latency_split(b0, b1):
    """Two latency_split_buckets scrapes: per stage (and "fanout", the whole), the observations
    between them and the bucket bounds (ms) of their p50, p99 and p99.9."""
    out = {}
    for series, buckets in b1.items():
        stage = series.split('"')[1] if '"' in series else series
        before = b0.get(series, {})
        ms = lambda q: (lambda v: None if v is None else v * 1e3)(bucket_quantile(before, buckets, q))
        out[stage] = {"count": buckets[max(buckets)] - before.get(max(buckets), 0),
                      "p50_le_ms": ms(0.5), "p99_le_ms": ms(0.99), "p999_le_ms": ms(0.999)}
    return out


def pinned(cpus):
    """The command prefix that keeps a process and all its threads on `cpus` (taskset execs the
    program, so the pid stays the program's)."""
    return ["taskset", "-c", str(cpus)] if cpus is not None else []


def run_load(load, url, pids, out_json, args, timeout, log_path=None, cpus=None):
    """Runs tickgate-load (quiet) and returns its JSON result; the timeout bounds every run.
    cpus: as start_tickgate's."""
    argv = [*pinned(cpus), load, "--url", url, "--out", out_json, "--quiet", *[f"--pid={p}" for p in pids], *map(str, args)]
    stderr = open(log_path, "w") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=stderr, timeout=timeout, text=True,
                              preexec_fn=_raise_nofile)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"tickgate-load did not finish within {timeout} s"}
    finally:
        if log_path:
            stderr.close()
    try:
        with open(out_json) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {"ok": False, "error": f"no result (exit {proc.returncode}): {proc.stdout[-500:]}"}
    result["summary"] = proc.stdout
    return result


def expected_per_s(rate, symbols, connections, per_connection):
    """Messages/s a server must deliver: each update of a topic goes to its subscribers, and with K
    distinct topics per client drawn uniformly, a topic has connections*K/symbols of them."""
    return rate * connections * min(per_connection, symbols) / symbols


def keeps_up(load, expected, p99_limit_ms=10.0, share=0.95):
    """(bool, reason): delivered at least `share` of the offered messages, p99 within the limit,
    no seq gaps and no disconnects among normal clients."""
    if not load.get("ok"):
        return False, "run failed: " + str(load.get("error"))
    per_s = load["messages"]["per_s"]
    p99 = load["latency"]["normal"]["p99_ms"]
    gaps = load["seq"]["normal"]["gaps"]
    disc = load["connections"]["disconnects"]["total"]
    if per_s < share * expected:
        return False, f"delivered {per_s:,.0f}/s < {share:.0%} of {expected:,.0f}/s"
    if p99 > p99_limit_ms:
        return False, f"p99 {p99:.2f} ms > {p99_limit_ms} ms"
    if gaps:
        return False, f"{gaps} seq gaps"
    if disc:
        return False, f"{disc} disconnects"
    return True, "keeps up"


def check(target, measured, limit, ok, unit=""):
    return {"target": target, "measured": measured, "limit": limit, "unit": unit, "pass": bool(ok)}


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
