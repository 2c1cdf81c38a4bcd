#!/usr/bin/python3
"""Writes dashboards/tickgate.json, the Grafana dashboard, beside this script.

Edit the panels here and run it (tests/deploy/check_deploy.py fails when the JSON and this
script disagree): python3 deploy/grafana/make_dashboard.py
"""
import json
import sys
from pathlib import Path

DS = {"type": "prometheus", "uid": "${datasource}"}
I = 'instance=~"$instance"'
RI = "$__rate_interval"
panels = []
pid = [0]
def nid():
    pid[0] += 1; return pid[0]

def target(expr, legend, ref):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}

def stat(title, exprs, x, y, w=4, h=4, unit="short", mappings=None, thresholds=None, desc=""):
    steps = thresholds or [{"color": "green", "value": None}]
    return {"id": nid(), "type": "stat", "title": title, "description": desc, "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": [target(e, l, chr(65 + i)) for i, (e, l) in enumerate(exprs)],
            "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                         "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "value_and_name" if len(exprs) > 1 else "value",
                        "justifyMode": "auto", "orientation": "auto"}}

def ts(title, exprs, x, y, w=12, h=8, unit="short", desc="", thresholds=None, min0=True):
    defaults = {"unit": unit, "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                          "showPoints": "never", "spanNulls": False}}
    if min0: defaults["min"] = 0
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["custom"]["thresholdsStyle"] = {"mode": "line+area"}
    return {"id": nid(), "type": "timeseries", "title": title, "description": desc, "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": [target(e, l, chr(65 + i)) for i, (e, l) in enumerate(exprs)],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}

def timeline(title, exprs, x, y, w=12, h=8, desc=""):
    return {"id": nid(), "type": "state-timeline", "title": title, "description": desc, "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "targets": [target(e, l, chr(65 + i)) for i, (e, l) in enumerate(exprs)],
            "fieldConfig": {"defaults": {"mappings": UPDOWN,
                                         "thresholds": {"mode": "absolute", "steps": [
                                             {"color": "red", "value": None}, {"color": "green", "value": 1}]},
                                         "color": {"mode": "thresholds"}}, "overrides": []},
            "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}}

def row(title, y):
    return {"id": nid(), "type": "row", "title": title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}

UPDOWN = [{"type": "value", "options": {"0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}}}]
RED_GREEN = [{"color": "red", "value": None}, {"color": "green", "value": 1}]

def q(p, metric):
    return (f'histogram_quantile({p}, sum by (instance, le) (rate({metric}_bucket{{job="tickgate", {I}}}[{RI}])))')

y = 0
panels.append(row("Overview", y)); y += 1
panels += [
    stat("Gateways up", [('count(up{job="tickgate"} == 1)', "")], 0, y, thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
         desc="Gateways answering Prometheus scrapes."),
    stat("Connections", [(f'sum(tickgate_connections{{job="tickgate", {I}}})', "")], 4, y,
         desc="Open WebSocket sessions on the selected gateways."),
    stat("Messages/s to clients", [(f'sum(rate(tickgate_messages_sent_total{{job="tickgate", {I}}}[{RI}]))', "")], 8, y, unit="ops"),
    stat("Upstream (NATS)", [(f'min(tickgate_upstream_connected{{job="tickgate", {I}}})', "")], 12, y, mappings=UPDOWN, thresholds=RED_GREEN,
         desc="down if any selected gateway is disconnected from NATS."),
    stat("Feeds fresh", [(f'min(tickgate_feed_fresh{{job="tickgate", {I}}})', "")], 16, y,
         mappings=[{"type": "value", "options": {"0": {"text": "stale", "color": "red"}, "1": {"text": "fresh", "color": "green"}}}],
         thresholds=RED_GREEN, desc="stale if any selected gateway has a feed without updates for --stale-ms (/healthz 503)."),
    stat("Publisher", [('min(tickgate_feed_nats_connected{job="tickgate-feed"})', "")], 20, y, mappings=UPDOWN, thresholds=RED_GREEN,
         desc="tickgate-feed's connection to NATS."),
]
y += 4
panels.append(row("Clients", y)); y += 1
panels += [
    ts("Connections per gateway", [(f'tickgate_connections{{job="tickgate", {I}}}', "{{instance}}")], 0, y,
       thresholds=[{"color": "transparent", "value": None}, {"color": "orange", "value": 9000}, {"color": "red", "value": 10000}],
       desc="Open sessions; orange from 90 % of max-connections (10000), the TickgateConnectionsNearLimit alert."),
    ts("Messages/s", [
        (f'sum by (instance) (rate(tickgate_messages_sent_total{{job="tickgate", {I}}}[{RI}]))', "to clients {{instance}}"),
        (f'sum by (instance) (rate(tickgate_upstream_messages_total{{job="tickgate", {I}}}[{RI}]))', "from NATS {{instance}}"),
        (f'sum(rate(tickgate_feed_published_total{{job="tickgate-feed"}}[{RI}]))', "published by tickgate-feed"),
    ], 12, y, unit="ops", desc="Messages written to clients, updates received from NATS, updates published."),
]
y += 8
panels += [
    ts("Fan-out latency p50 / p99", [
        (q(0.5, "tickgate_fanout_latency_seconds"), "p50 {{instance}}"),
        (q(0.99, "tickgate_fanout_latency_seconds"), "p99 {{instance}}"),
    ], 0, y, unit="s", thresholds=[{"color": "transparent", "value": None}, {"color": "orange", "value": 0.01}],
       desc="Publisher timestamp to completion of the socket write carrying the update (one sample per write). Alert above 10 ms p99."),
    ts("Conflation and skipped updates /s", [
        (f'sum by (instance) (rate(tickgate_messages_conflated_total{{job="tickgate", {I}}}[{RI}]))', "conflated {{instance}}"),
        (f'sum by (instance) (rate(tickgate_updates_skipped_behind_total{{job="tickgate", {I}}}[{RI}]))', "skipped behind {{instance}}"),
    ], 12, y, unit="ops",
       desc="conflated: a slow client's queued update replaced by a newer one of the same topic. skipped behind: a lagging worker skipped an update already superseded. Both are seq gaps for clients."),
]
y += 8
panels += [
    ts("Disconnects /min", [
        (f'sum by (instance) (rate(tickgate_slow_consumer_disconnects_total{{job="tickgate", {I}}}[{RI}])) * 60', "slow consumer {{instance}}"),
        (f'sum by (instance) (rate(tickgate_heartbeat_timeouts_total{{job="tickgate", {I}}}[{RI}])) * 60', "heartbeat timeout {{instance}}"),
    ], 0, y, desc="Clients closed with 1008 slow consumer, and after 3 silent heartbeats."),
    ts("New connections /s by outcome", [
        (f'sum by (result) (rate(tickgate_connections_total{{job="tickgate", {I}}}[{RI}]))', "{{result}}"),
    ], 12, y, unit="ops", desc="rejected_limit: max-connections or max-connections-per-ip reached (HTTP 503)."),
]
y += 8
panels += [
    ts("Bytes/s to clients", [
        (f'sum by (instance) (rate(tickgate_bytes_sent_total{{job="tickgate", {I}}}[{RI}]))', "{{instance}}"),
    ], 0, y, unit="Bps", desc="Before TLS."),
    ts("Ring depth and topics", [
        (f'tickgate_ring_depth{{job="tickgate", {I}}}', "ring depth {{instance}}"),
        (f'tickgate_topics{{job="tickgate", {I}}}', "topics {{instance}}"),
    ], 12, y, desc="Updates waiting between the feed adapters and the broadcast engine; distinct topics held (bounded by --max-topics)."),
]
y += 8
panels.append(row("Upstream", y)); y += 1
panels += [
    timeline("Upstream state", [
        (f'tickgate_upstream_connected{{job="tickgate", {I}}}', "gateway {{instance}} → NATS"),
        (f'tickgate_feed_fresh{{job="tickgate", {I}}}', "feed {{feed}} fresh on {{instance}}"),
        ('tickgate_feed_nats_connected{job="tickgate-feed"}', "tickgate-feed {{instance}} → NATS"),
    ], 0, y, desc="Green: connected / fresh. A gateway keeps its clients while disconnected and tells them the feed is stale."),
    ts("Feed age", [
        (f'tickgate_feed_age_seconds{{job="tickgate", {I}}}', "{{feed}} on {{instance}}"),
    ], 12, y, unit="s", thresholds=[{"color": "transparent", "value": None}, {"color": "red", "value": 5}],
       desc="Time since the last update per feed; stale beyond --stale-ms (5 s by default)."),
]
y += 8
panels += [
    ts("Upstream latency p50 / p99", [
        (q(0.5, "tickgate_upstream_latency_seconds"), "p50 {{instance}}"),
        (q(0.99, "tickgate_upstream_latency_seconds"), "p99 {{instance}}"),
    ], 0, y, unit="s", desc="Publisher timestamp to insertion into the gateway's ring: what NATS adds (plus clock offset across machines)."),
    ts("Upstream errors and reconnects", [
        (f'sum by (instance) (rate(tickgate_upstream_decode_errors_total{{job="tickgate", {I}}}[{RI}]))', "decode errors/s {{instance}}"),
        (f'sum by (instance) (increase(tickgate_upstream_reconnects_total{{job="tickgate", {I}}}[{RI}]))', "gateway reconnects {{instance}}"),
        (f'sum by (instance) (rate(tickgate_upstream_duplicates_total{{job="tickgate", {I}}}[{RI}]))', "duplicates skipped/s {{instance}}"),
        ('sum by (instance) (rate(tickgate_feed_nats_errors_total{job="tickgate-feed"}[$__rate_interval]))', "publisher NATS errors/s {{instance}}"),
        ('sum by (instance) (increase(tickgate_feed_reconnects_total{job="tickgate-feed"}[$__rate_interval]))', "publisher reconnects {{instance}}"),
    ], 12, y, desc="Decode errors: messages on the feed subjects that are not tickgate updates (counted and skipped). Duplicates: updates whose seq is not above the topic's last (expected briefly after a reconnect, when the latest values are read again)."),
]

dash = {
    "uid": "tickgate",
    "title": "tickgate",
    "description": "tickgate gateways and the tickgate-feed publisher: connections, messages/s, conflation, latency, upstream state.",
    "tags": ["tickgate"],
    "timezone": "utc",
    "editable": False,
    "graphTooltip": 1,
    "refresh": "10s",
    "schemaVersion": 39,
    "version": 1,
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Datasource", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False},
        {"name": "instance", "label": "Gateway", "type": "query", "datasource": DS,
         "query": {"query": 'label_values(tickgate_connections{job="tickgate"}, instance)', "refId": "instance"},
         "definition": 'label_values(tickgate_connections{job="tickgate"}, instance)',
         "refresh": 2, "includeAll": True, "allValue": ".*", "multi": True, "sort": 1,
         "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "hide": 0},
    ]},
    "annotations": {"list": []},
    "links": [],
    "panels": panels,
}
text = json.dumps(dash, indent=2, ensure_ascii=False) + "\n"
out = Path(__file__).resolve().parent / "dashboards" / "tickgate.json"
if "--check" in sys.argv[1:]:
    sys.exit(0 if out.read_text() == text else 1)
out.write_text(text)
print(f"{out}: {len(panels)} panels")
