#!/usr/bin/python3
"""Checks deploy/ without Docker or Kubernetes.

Static: promtool (config, rules, rule unit tests), YAML and JSON syntax of every file, the
compose file's mounts and scrape targets, the Kubernetes manifests' selectors, ports and probes,
nats-server -t on every NATS config, haproxy -c, systemd-analyze verify, and that the connection
limit in the alert rule is the one every shipped config sets.

Live: nats-server (JetStream, ephemeral loopback port, temporary store), tickgate-feed and
tickgate --feed nats://... started with the shipped Kubernetes configs, a WebSocket client
subscribed for a while, then every metric name used in the rules and the dashboard must appear
in the gateway's or the publisher's /metrics. Then the behaviour the probes rely on: with NATS
gone /healthz is 503 while /readyz stays 200 and clients stay connected; SIGTERM closes clients
with 1001 and the gateway exits within 2 s. The other shipped configs are started once each.

Run with Debian's python3 (it has python3-yaml):
  /usr/bin/python3 tests/deploy/check_deploy.py --gateway build/tickgate --feed build/tickgate-feed
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
failures = []


def ok(what):
    print(f"ok    {what}", flush=True)


def fail(what):
    print(f"FAIL  {what}", flush=True)
    failures.append(what)


def check(cond, what):
    (ok if cond else fail)(what)
    return cond


def run(cmd, what, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    if r.returncode == 0:
        ok(what)
    else:
        fail(f"{what}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r.returncode == 0


# ---------------------------------------------------------------------------------------------
# Parsing helpers

def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def conf_values(text):
    """key = value lines of a tickgate --config file (repeated keys give several values)."""
    values = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            values.setdefault(k, []).append(v)
    return values


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                   "unless", "offset", "inf", "nan", "atan2"}
# Series Prometheus makes itself, not scraped from a target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
                     "scrape_samples_post_metric_relabeling", "ALERTS", "ALERTS_FOR_STATE"}


def promql_metric_names(expr):
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"'(?:\\.|[^'\\])*'", "''", e)
    e = re.sub(r"\{[^}]*\}", " ", e)            # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)           # range selectors, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        start = m.start()
        if start > 0 and (e[start - 1].isdigit() or e[start - 1] == "."):
            continue                             # 1e3, 5m
        if e[m.end():].lstrip().startswith("("):
            continue                             # function call
        if m.group(0).lower() in PROMQL_KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def exposition_names(text):
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, 1)[0])
    return names


def exposition_value(text, name, labels=None):
    """Sum of the samples of `name` (with the given label substring, if any)."""
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and re.match(re.escape(name) + r"[{\s]", line):
            if labels and labels not in line:
                continue
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


def rules_exprs():
    exprs, recorded = [], set()
    for group in load_yaml_docs(DEPLOY / "prometheus/rules.yml")[0]["groups"]:
        for rule in group["rules"]:
            exprs.append((rule.get("alert") or rule.get("record"), str(rule["expr"])))
            if "record" in rule:
                recorded.add(rule["record"])
    return exprs, recorded


def dashboard_exprs(dash):
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p.get("title", "?"), t.get("expr", "")))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        if v.get("type") == "query" and q:
            m = re.match(r"label_values\((.*),\s*\w+\)\s*$", q)
            out.append((f"variable {v['name']}", m.group(1) if m else q))
    return out


# ---------------------------------------------------------------------------------------------
# Static checks

def check_prometheus():
    promtool = shutil.which("promtool")
    if not check(promtool is not None, "promtool is installed (Debian package prometheus)"):
        return
    run([promtool, "check", "config", str(DEPLOY / "prometheus/prometheus.yml")], "promtool check config prometheus.yml")
    run([promtool, "check", "rules", str(DEPLOY / "prometheus/rules.yml")], "promtool check rules rules.yml")
    run([promtool, "test", "rules", str(DEPLOY / "prometheus/rules_test.yml")], "promtool test rules rules_test.yml")


def check_syntax():
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))
    check(len(files) >= 10, f"{len(files)} YAML files under deploy/")
    for p in files:
        try:
            docs = load_yaml_docs(p)
            check(len(docs) > 0, f"YAML {p.relative_to(ROOT)} ({len(docs)} documents)")
        except yaml.YAMLError as e:
            fail(f"YAML {p.relative_to(ROOT)}: {e}")
    for p in sorted(DEPLOY.rglob("*.json")):
        try:
            json.loads(p.read_text())
            ok(f"JSON {p.relative_to(ROOT)}")
        except json.JSONDecodeError as e:
            fail(f"JSON {p.relative_to(ROOT)}: {e}")


def check_compose():
    compose = load_yaml_docs(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    for name in ("nats", "tickgate-feed", "gateway-1", "gateway-2", "haproxy", "prometheus", "grafana"):
        check(name in services, f"compose: service {name}")
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            if src.startswith("."):
                check((DEPLOY / src).exists(), f"compose: {name} mounts {src}, which exists")
    if "build" in services.get("gateway-1", {}):
        b = services["gateway-1"]["build"]
        check((DEPLOY / b["context"] / b["dockerfile"]).exists(), "compose: build context and Dockerfile exist")
    prom = load_yaml_docs(DEPLOY / "prometheus/prometheus.yml")[0]
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    check({"tickgate", "tickgate-feed"} <= set(jobs), "prometheus.yml: jobs tickgate and tickgate-feed")
    for job in jobs.values():
        for sc in job.get("static_configs", []):
            for target in sc["targets"]:
                check(target.split(":")[0] in services, f"prometheus.yml: target {target} is a compose service")
    gateway_metrics_port = conf_values((DEPLOY / "docker/tickgate.conf").read_text())["metrics-listen"][0].rsplit(":", 1)[1]
    check(all(t.endswith(":" + gateway_metrics_port) for sc in jobs["tickgate"]["static_configs"] for t in sc["targets"]),
          f"prometheus.yml: gateways scraped on the image's metrics port {gateway_metrics_port}")
    feed_cmd = " ".join(services["tickgate-feed"]["command"])
    m = re.search(r"--metrics-listen[= ]\S+:(\d+)", feed_cmd)
    check(m and all(t.endswith(":" + m.group(1)) for sc in jobs["tickgate-feed"]["static_configs"] for t in sc["targets"]),
          "prometheus.yml: tickgate-feed scraped on its --metrics-listen port")
    haproxy_cfg = (DEPLOY / "haproxy/haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server\s+\S+\s+([\w.-]+):\d+", haproxy_cfg, re.M)
    check(servers and all(s in services for s in servers), f"haproxy.cfg: backend servers {servers} are compose services")
    haproxy = shutil.which("haproxy") or (Path("/usr/sbin/haproxy") if Path("/usr/sbin/haproxy").exists() else None)
    if check(haproxy is not None, "haproxy is installed"):
        run([str(haproxy), "-c", "-q", "-f", str(DEPLOY / "haproxy/haproxy.cfg")], "haproxy -c haproxy.cfg")


def check_grafana(dash):
    ds = load_yaml_docs(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")[0]["datasources"][0]
    check(ds["type"] == "prometheus" and ds["url"].startswith("http://prometheus:"), "grafana: datasource is the compose Prometheus")
    prov = load_yaml_docs(DEPLOY / "grafana/provisioning/dashboards/tickgate.yml")[0]["providers"][0]
    compose = load_yaml_docs(DEPLOY / "docker-compose.yml")[0]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    check(mounts.get(prov["options"]["path"]) == "./grafana/dashboards", "grafana: dashboard provider path is the mounted deploy/grafana/dashboards")
    panels = []

    def walk(ps):
        for p in ps:
            panels.append(p)
            walk(p.get("panels", []))
    walk(dash["panels"])
    titles = " ".join(p.get("title", "") for p in panels).lower()
    for word in ("connections", "messages/s", "conflation", "p50 / p99", "upstream state"):
        check(word in titles, f"dashboard: a panel for {word}")
    bad = [p["title"] for p in panels if p.get("type") != "row" and p.get("datasource", {}).get("uid") != "${datasource}"]
    check(not bad, f"dashboard: every panel uses the $datasource variable {bad or ''}")
    run([sys.executable, str(DEPLOY / "grafana/make_dashboard.py"), "--check"],
        "dashboard: tickgate.json is what deploy/grafana/make_dashboard.py writes")
    ids = [p["id"] for p in panels]
    check(len(ids) == len(set(ids)), "dashboard: panel ids are unique")


def workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


def container_ports(w):
    ports = {}
    for c in w["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports", []):
            ports[p.get("name")] = p["containerPort"]
            ports[p["containerPort"]] = p["containerPort"]
    return ports


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_kubernetes(kube_confs):
    docs = []
    kdir = DEPLOY / "kubernetes"
    kust = load_yaml_docs(kdir / "kustomization.yaml")[0]
    for res in kust["resources"]:
        docs += load_yaml_docs(kdir / res)
    listed = {p.name for p in kdir.glob("*.yaml")} - {"kustomization.yaml"}
    check(listed == set(kust["resources"]), "kubernetes: kustomization lists every manifest")
    for d in docs:
        check(all(k in d for k in ("apiVersion", "kind", "metadata")) and d["metadata"].get("name"),
              f"kubernetes: {d.get('kind')} {d.get('metadata', {}).get('name')} has apiVersion, kind, name")
    ws = workloads(docs)
    for w in ws:
        sel = w["spec"]["selector"]["matchLabels"]
        check(matches(sel, w["spec"]["template"]["metadata"]["labels"]), f"kubernetes: {w['kind']} {w['metadata']['name']} selector matches its pods")
    for d in docs:
        if d["kind"] == "Service":
            targets = [w for w in ws if matches(d["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]
            if check(targets, f"kubernetes: Service {d['metadata']['name']} selects a workload"):
                for p in d["spec"]["ports"]:
                    check(all(p.get("targetPort", p["port"]) in container_ports(w) for w in targets),
                          f"kubernetes: Service {d['metadata']['name']} port {p['name']} targets a container port")
        if d["kind"] == "PodDisruptionBudget":
            check(any(matches(d["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]) for w in ws),
                  f"kubernetes: PodDisruptionBudget {d['metadata']['name']} selects a workload")
        if d["kind"] == "StatefulSet":
            check(any(s["kind"] == "Service" and s["metadata"]["name"] == d["spec"]["serviceName"] and s["spec"].get("clusterIP") == "None" for s in docs),
                  f"kubernetes: StatefulSet {d['metadata']['name']} has its headless Service")
        for vol in (d.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []) if d["kind"] in ("Deployment", "StatefulSet") else []):
            if "configMap" in vol:
                check(any(c["kind"] == "ConfigMap" and c["metadata"]["name"] == vol["configMap"]["name"] for c in docs),
                      f"kubernetes: {d['metadata']['name']} mounts ConfigMap {vol['configMap']['name']}, which is defined")

    gw = next(w for w in ws if w["metadata"]["name"] == "tickgate")
    spec = gw["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "kubernetes: gateway readiness probe is /readyz")
    live = c.get("livenessProbe", {})
    check(live and live.get("httpGet", {}).get("path") != "/healthz",
          "kubernetes: gateway liveness probe is not /healthz (503 on a stale feed)")
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else None
    check(sleep is not None and sleep >= 5, f"kubernetes: gateway preStop sleeps before SIGTERM ({pre})")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(sleep is not None and grace >= sleep + 2 + 5,
          f"kubernetes: terminationGracePeriodSeconds {grace} covers preStop {sleep} s + 2 s drain + margin")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    conf = conf_values(kube_confs["gateway"])
    check(mounts.get("config") == "/etc/tickgate", "kubernetes: gateway config mounted where the image's entrypoint reads it")
    tls_dir = mounts.get("tls", "")
    check(conf["cert"][0] == f"{tls_dir}/tls.crt" and conf["key"][0] == f"{tls_dir}/tls.key",
          "kubernetes: cert/key in the ConfigMap point into the mounted tickgate-tls Secret")
    ann = gw["spec"]["template"]["metadata"]["annotations"]
    check(ann["prometheus.io/port"] == conf["metrics-listen"][0].rsplit(":", 1)[1], "kubernetes: gateway scrape port is its metrics-listen port")
    feed = next(w for w in ws if w["metadata"]["name"] == "tickgate-feed")
    check(feed["spec"]["replicas"] == 1 and feed["spec"]["strategy"]["type"] == "Recreate",
          "kubernetes: exactly one tickgate-feed, replaced with strategy Recreate")
    fconf = conf_values(kube_confs["feed"])
    check(feed["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == fconf["metrics-listen"][0].rsplit(":", 1)[1],
          "kubernetes: tickgate-feed scrape port is its metrics-listen port")

    kubectl = shutil.which("kubectl")
    if kubectl:
        run([kubectl, "kustomize", str(kdir)], "kubectl kustomize deploy/kubernetes")
    else:
        print("skip  kubectl kustomize (no kubectl)")


def kube_configs():
    docs = []
    for res in ("gateway.yaml", "tickgate-feed.yaml", "nats.yaml"):
        docs += load_yaml_docs(DEPLOY / "kubernetes" / res)
    cms = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    return {"gateway": cms["tickgate"]["tickgate.conf"], "feed": cms["tickgate-feed"]["tickgate-feed.conf"],
            "nats": cms["nats"]["nats.conf"]}


def check_nats_configs(tmp, kube_confs):
    nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
    for p in (DEPLOY / "nats/nats-server.conf", DEPLOY / "systemd/nats-server.conf"):
        run([nats, "-c", str(p), "-t"], f"nats-server -t {p.relative_to(ROOT)}")
    kp = tmp / "nats-kube.conf"
    kp.write_text(kube_confs["nats"])
    run([nats, "-c", str(kp), "-t"], "nats-server -t (Kubernetes ConfigMap nats)", env=dict(os.environ, POD_NAME="nats-0"))


def mib(quantity):
    """A Kubernetes memory quantity or a Go GOMEMLIMIT value (Ki/Mi/Gi or KiB/MiB/GiB), in MiB."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)B?", quantity)
    return int(m.group(1)) * {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[m.group(2)] if m else None


def nats_go_envs():
    """The Go runtime settings every shipped nats-server runs with, by where they are set."""
    compose = load_yaml_docs(DEPLOY / "docker-compose.yml")[0]["services"]["nats"].get("environment", {})
    sts = next(d for d in load_yaml_docs(DEPLOY / "kubernetes/nats.yaml") if d["kind"] == "StatefulSet")
    container = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "nats")
    kube = {e["name"]: e.get("value") for e in container.get("env", [])}
    dropin = (DEPLOY / "systemd/nats-server.service.d/jetstream.conf").read_text()
    systemd = dict(kv.split("=", 1) for line in re.findall(r"^Environment=(.*)$", dropin, re.M) for kv in line.split())
    return {"compose": compose, "kubernetes": kube, "systemd": systemd}, container


def check_nats_gc():
    # bench/README.md, "nats-server's garbage collector": the bus's p99 was measured with this GOGC
    # (nats.py's default), so every shipped nats-server must run with it, and with a GOMEMLIMIT
    # below any memory limit its container has, so the larger heap collects before it is killed.
    bench = (ROOT / "bench/scenarios/nats.py").read_text()
    gogc = re.search(r"^DEPLOY_GOGC = (\d+)$", bench, re.M).group(1)
    envs, container = nats_go_envs()
    for where, env in envs.items():
        check(str(env.get("GOGC")) == gogc, f"{where}: nats-server runs with GOGC={gogc}, as bench/scenarios/nats.py measures")
        check(mib(str(env.get("GOMEMLIMIT", ""))) is not None, f"{where}: nats-server has a GOMEMLIMIT")
    limit = mib(container.get("resources", {}).get("limits", {}).get("memory", ""))
    soft = mib(str(envs["kubernetes"].get("GOMEMLIMIT", "")))
    check(limit and soft and soft < limit, f"kubernetes: nats' GOMEMLIMIT ({soft} MiB) is below its memory limit ({limit} MiB)")


def check_systemd(tmp, gateway, feed):
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("skip  systemd-analyze verify (no systemd-analyze)")
        return
    units = []
    for name, binary in (("tickgate", gateway), ("tickgate-feed", feed)):
        text = (DEPLOY / f"systemd/{name}.service").read_text()
        check(f"ExecStart=/usr/local/bin/{name} --config /etc/tickgate/{name}.conf" in text,
              f"systemd: {name}.service runs /usr/local/bin/{name} with /etc/tickgate/{name}.conf")
        for opt in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes"):
            check(opt in text, f"systemd: {name}.service sets {opt}")
        if binary:
            u = tmp / f"{name}.service"
            u.write_text(text.replace(f"/usr/local/bin/{name}", str(binary)))
            units.append(str(u))
    if units:
        run([sa, "verify", "--man=no"] + units, "systemd-analyze verify " + " ".join(Path(u).name for u in units))


def check_connection_limit(kube_confs):
    _, rules = None, load_yaml_docs(DEPLOY / "prometheus/rules.yml")[0]
    expr = next(r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "TickgateConnectionsNearLimit")
    m = re.search(r"0\.9 \* (\d+)", expr)
    if not check(m, "rules: TickgateConnectionsNearLimit is 0.9 * max-connections"):
        return
    limit = m.group(1)
    compose = load_yaml_docs(DEPLOY / "docker-compose.yml")[0]
    cmd = " ".join(compose["x-gateway"]["command"])
    shipped = {
        "docker-compose.yml": (re.search(r"--max-connections=(\d+)", cmd) or [None, None])[1],
        "kubernetes/gateway.yaml": conf_values(kube_confs["gateway"]).get("max-connections", [None])[0],
        "systemd/tickgate.conf": conf_values((DEPLOY / "systemd/tickgate.conf").read_text()).get("max-connections", [None])[0],
    }
    for where, value in shipped.items():
        check(value == limit, f"max-connections in deploy/{where} ({value}) is the alert's {limit}")


# ---------------------------------------------------------------------------------------------
# Processes

class Proc:
    def __init__(self, name, cmd, tmp, env=None):
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def text(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        return None

    def stop(self, timeout=5):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


def http_get(url, timeout=3):
    if url.startswith("https://"):
        host, _, rest = url[len("https://"):].partition("/")
        h, port = host.rsplit(":", 1)
        conn = http.client.HTTPSConnection(h, int(port), timeout=timeout, context=insecure_tls())
        conn.request("GET", "/" + rest)
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        return r.status, body
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def insecure_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class WebSocketClient:
    """Just enough RFC 6455 to subscribe and read: server frames are never masked."""

    def __init__(self, host, port, path):
        raw = socket.create_connection((host, port), timeout=5)
        self.s = insecure_tls().wrap_socket(raw, server_hostname="localhost")
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk

    def frame(self, deadline):
        """(opcode, payload), or None at the deadline."""
        try:
            self._need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                self._need(4, deadline)
                n, off = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10, deadline)
                n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
            self._need(off + n, deadline)
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            return None
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return b0 & 0x0F, payload

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def read_messages(ws, seconds):
    """Text messages within `seconds`, and the close code if the server closed."""
    msgs, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        f = ws.frame(deadline)
        if f is None:
            break
        op, payload = f
        if op == 8:
            return msgs, struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        if op == 1:
            msgs.append(json.loads(payload))
    return msgs, None


def make_cert(tmp):
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True, timeout=30)
    return cert, key


def start_gateway(name, gateway, tmp, conf_text, nats_url, cert, key, extra=()):
    conf = tmp / f"{name}.conf"
    conf.write_text(conf_text)
    # Flags override the file: everything but the addresses, the certificate and the NATS servers
    # comes from the shipped config.
    g = Proc(name, [str(gateway), "--config", str(conf), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                    "--cert", str(cert), "--key", str(key), "--state-dir", str(tmp / "state"), "--feed", nats_url,
                    "--threads", "1", *extra], tmp)
    ws = g.wait_for(r"listening on wss://127\.0\.0\.1:(\d+)/ws")
    m = g.wait_for(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
    return g, (int(ws.group(1)) if ws else None), (int(m.group(1)) if m else None)


def start_feed(name, feed, tmp, conf_text, nats_url, extra=()):
    conf = tmp / f"{name}.conf"
    conf.write_text(conf_text)
    f = Proc(name, [str(feed), "--config", str(conf), "--nats", nats_url, "--metrics-listen", "127.0.0.1:0",
                    "--symbols", "5", "--rate", "200", *extra], tmp)
    m = f.wait_for(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
    return f, (int(m.group(1)) if m else None)


def wait_until(fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return None


def live_checks(args, tmp, kube_confs, used_names):
    procs = []
    try:
        # With the Go settings the Kubernetes manifest gives it: a value Go cannot parse stops it here.
        go_env = {k: v for k, v in nats_go_envs()[0]["kubernetes"].items() if k.startswith("GO")}
        nats = Proc("nats-server", [shutil.which("nats-server") or "/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", "-1",
                                    "-js", "-sd", str(tmp / "jetstream")], tmp, env=dict(os.environ, **go_env))
        procs.append(nats)
        m = nats.wait_for(r"Listening for client connections on 127\.0\.0\.1:(\d+)")
        if not check(m, "nats-server with JetStream on an ephemeral loopback port"):
            return
        nats_url = f"nats://127.0.0.1:{m.group(1)}"
        cert, key = make_cert(tmp)

        feed_text = ""
        if args.feed:
            feed, feed_port = start_feed("tickgate-feed", args.feed, tmp, kube_confs["feed"], nats_url)
            procs.append(feed)
            feed_metrics = f"http://127.0.0.1:{feed_port}/metrics"
            check(feed_port and wait_until(lambda: http_get(feed_metrics)[0] == 200, 10),
                  "tickgate-feed (Kubernetes ConfigMap config) serves /metrics")
        else:
            fail("no tickgate-feed binary: the publisher's metrics cannot be checked")

        gw, ws_port, m_port = start_gateway("tickgate", args.gateway, tmp, kube_confs["gateway"], nats_url, cert, key,
                                            extra=("--stale-ms", "1000"))
        procs.append(gw)
        if not check(ws_port and m_port, f"tickgate --feed {nats_url} (Kubernetes ConfigMap config) starts"):
            print(gw.text())
            return
        base = f"https://127.0.0.1:{ws_port}"
        gw_metrics = f"http://127.0.0.1:{m_port}/metrics"

        ws = WebSocketClient("127.0.0.1", ws_port, "/ws?subscribe=ticker.*")
        msgs, closed = read_messages(ws, 3.0)
        tickers = [x for x in msgs if x.get("type") == "ticker"]
        check(len(tickers) >= 20 and closed is None,
              f"a client subscribed to ticker.* received {len(tickers)} updates through NATS in 3 s")
        check(wait_until(lambda: http_get(base + "/healthz")[0] == 200, 5), "/healthz 200 while the feed flows")

        gtext = http_get(gw_metrics)[1]
        ftext = http_get(feed_metrics)[1] if args.feed else ""
        gnames, fnames = exposition_names(gtext), exposition_names(ftext)
        for name, text, cond in (
            ("tickgate_upstream_connected", gtext, lambda v: v == 1),
            ("tickgate_upstream_messages_total", gtext, lambda v: v > 0),
            ("tickgate_messages_sent_total", gtext, lambda v: v > 0),
            ("tickgate_fanout_latency_seconds_count", gtext, lambda v: v > 0),
            ("tickgate_upstream_latency_seconds_count", gtext, lambda v: v > 0),
            ("tickgate_feed_published_total", ftext, lambda v: v > 0),
            ("tickgate_feed_nats_connected", ftext, lambda v: v == 1),
        ):
            v = exposition_value(text, name)
            check(v is not None and cond(v), f"traffic flowed: {name} = {v}")
        if args.feed:
            check(re.search(r"^tickgate_feed_nats_connected 1$", ftext, re.M),
                  "tickgate-feed exposes the line the compose health check greps ('tickgate_feed_nats_connected 1')")

        missing = sorted(n for n in used_names if n not in gnames | fnames)
        check(not missing, f"{len(used_names)} metric names used by rules.yml and the dashboard exist in the /metrics "
                           f"of tickgate and tickgate-feed{': missing ' + ', '.join(missing) if missing else ''}")

        # The other shipped configs start (every key and value is accepted).
        for name, path in (("docker", DEPLOY / "docker/tickgate.conf"), ("systemd", DEPLOY / "systemd/tickgate.conf")):
            g, wsp, mp = start_gateway(f"tickgate-{name}", args.gateway, tmp, path.read_text(), "sim", cert, key)
            procs.append(g)
            check(wsp and mp, f"tickgate starts with deploy/{path.relative_to(DEPLOY)}")
            rc = g.stop()
            check(rc == 0, f"tickgate with deploy/{path.relative_to(DEPLOY)} stops cleanly ({rc})")
        if args.feed:
            # Its own subject prefix: one publisher per prefix.
            f2, port = start_feed("tickgate-feed-systemd", args.feed, tmp, (DEPLOY / "systemd/tickgate-feed.conf").read_text(),
                                  nats_url, extra=("--subject-prefix", "deploycheck"))
            procs.append(f2)
            check(port and wait_until(lambda: http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200, 10),
                  "tickgate-feed starts with deploy/systemd/tickgate-feed.conf")
            rc = f2.stop()
            check(rc == 0, f"tickgate-feed with deploy/systemd/tickgate-feed.conf stops cleanly ({rc})")
        # A NATS outage: the probes' contract.
        nats.stop()
        stale = wait_until(lambda: http_get(base + "/healthz")[0] == 503, 8)
        check(stale, "NATS stopped: /healthz turns 503 (stale feed)")
        check(http_get(base + "/readyz")[0] == 200, "NATS stopped: /readyz stays 200 (no restart, no removal from the pool)")
        v = exposition_value(http_get(gw_metrics)[1], "tickgate_upstream_connected")
        check(v == 0, f"NATS stopped: tickgate_upstream_connected = {v}")
        msgs, closed = read_messages(ws, 0.5)
        check(closed is None, "NATS stopped: the client stays connected")
        check(any(x.get("type") == "status" and x.get("state") == "stale" for x in msgs),
              "NATS stopped: the client got a status message saying stale")

        # SIGTERM: close 1001 to clients, exit within 2 s (terminationGracePeriodSeconds, TimeoutStopSec).
        t0 = time.monotonic()
        gw.p.send_signal(signal.SIGTERM)
        _, closed = read_messages(ws, 3.0)
        ws.close()
        rc = gw.p.wait(5)
        took = time.monotonic() - t0
        check(closed == 1001, f"SIGTERM: the client got close {closed} (1001 going away)")
        check(rc == 0 and took < 2.5, f"SIGTERM: the gateway exited with {rc} after {took:.2f} s")

    finally:
        for p in procs:
            if p.p.poll() is None or not p.log.closed:
                p.stop()
        if failures:
            for p in procs:
                print(f"--- {p.name} log (last 30 lines)")
                print("\n".join(p.text().splitlines()[-30:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", required=True, type=Path, help="the tickgate binary")
    ap.add_argument("--feed", type=Path, help="the tickgate-feed binary")
    ap.add_argument("--static-only", action="store_true", help="skip the checks that start processes")
    args = ap.parse_args()

    dash = json.loads((DEPLOY / "grafana/dashboards/tickgate.json").read_text())
    exprs, recorded = rules_exprs()
    used = set()
    for where, expr in exprs + dashboard_exprs(dash):
        names = promql_metric_names(expr)
        if not names:
            fail(f"no metric name found in the expression of {where}: {expr}")
        used |= names
    used -= PROMETHEUS_SERIES | recorded
    kube_confs = kube_configs()

    with tempfile.TemporaryDirectory(prefix="tickgate-deploy-") as t:
        tmp = Path(t)
        check_prometheus()
        check_syntax()
        check_compose()
        check_grafana(dash)
        check_kubernetes(kube_confs)
        check_nats_configs(tmp, kube_confs)
        check_nats_gc()
        check_systemd(tmp, args.gateway, args.feed)
        check_connection_limit(kube_confs)
        if not args.static_only:
            live_checks(args, tmp, kube_confs, used)

    print(f"\n{len(failures)} failure(s)" if failures else "\nall deploy checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
