#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdio>

#include "bench/load/result.hpp"

namespace tickgate::load {
namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

const char* protocol_name(WireProtocol p) { return p == WireProtocol::v1 ? "v1" : "socketio"; }
const char* slow_mode_name(SlowMode m) { return m == SlowMode::none ? "none" : m == SlowMode::stall ? "stall" : "rate"; }

void key(Writer& w, const char* k) { w.Key(k); }
void num(Writer& w, const char* k, double v) { w.Key(k); w.Double(v); }
void u64(Writer& w, const char* k, std::uint64_t v) { w.Key(k); w.Uint64(v); }
void str(Writer& w, const char* k, const std::string& v) { w.Key(k); w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size())); }

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }
double per_s(double n, double s) { return s > 0 ? n / s : 0.0; }

void latency(Writer& w, const char* k, const Histogram& h) {
    key(w, k);
    w.StartObject();
    u64(w, "count", h.count());
    num(w, "p50_ms", ms(h.quantile(0.50)));
    num(w, "p90_ms", ms(h.quantile(0.90)));
    num(w, "p99_ms", ms(h.quantile(0.99)));
    num(w, "p999_ms", ms(h.quantile(0.999)));
    num(w, "max_ms", ms(h.max()));
    num(w, "mean_ms", h.mean() / 1e6);
    u64(w, "negative", h.negatives());
    w.EndObject();
}

void seq(Writer& w, const char* k, const SeqCounts& s) {
    key(w, k);
    w.StartObject();
    u64(w, "updates", s.updates);
    u64(w, "snapshots", s.snapshots);
    u64(w, "gaps", s.gaps);
    u64(w, "missing", s.missing);
    u64(w, "duplicates", s.duplicates);
    u64(w, "reordered", s.reordered);
    w.EndObject();
}

void books(Writer& w, const char* k, const BookCounts& b, const BookCounts* book50 = nullptr) {
    key(w, k);
    w.StartObject();
    u64(w, "messages", b.messages);
    u64(w, "snapshots", b.snapshots);
    u64(w, "chain_breaks", b.chain_breaks);
    u64(w, "checksum_failures", b.checksum_failures);
    u64(w, "unverified", b.unverified);
    u64(w, "malformed", b.malformed);
    u64(w, "depth_exceeded", b.depth_exceeded);
    if (book50) books(w, "book50", *book50);  // the book50.<SYM> part of the figures above
    w.EndObject();
}

void trades(Writer& w, const char* k, const SeqCounts& s) {
    key(w, k);
    w.StartObject();
    u64(w, "messages", s.updates + s.snapshots);
    u64(w, "gaps", s.gaps);
    u64(w, "missing", s.missing);
    u64(w, "duplicates", s.duplicates);
    u64(w, "reordered", s.reordered);
    w.EndObject();
}

void parameters(Writer& w, const Result& r) {
    const auto& o = r.options;
    key(w, "parameters");
    w.StartObject();
    str(w, "url", std::string(o.url.tls ? "wss://" : "ws://") + o.url.host + ":" + std::to_string(o.url.port) + o.url.target);
    str(w, "protocol", protocol_name(o.protocol));
    u64(w, "connections", o.connections);
    num(w, "connect_rate", o.connect_rate);
    u64(w, "sources", o.sources);
    u64(w, "threads", o.threads);
    key(w, "topics");
    w.StartArray();
    for (const auto& t : o.topics) w.String(t.c_str());
    w.EndArray();
    u64(w, "topics_available", r.topics_available);
    u64(w, "per_connection", o.per_connection);
    key(w, "draw");
    w.StartArray();
    for (const auto& g : o.draws) w.String((g.pattern + "=" + std::to_string(g.k)).c_str());
    w.EndArray();
    key(w, "slow_topics");
    w.StartArray();
    for (const auto& t : o.slow_topics) w.String(t.c_str());
    w.EndArray();
    str(w, "distribution", o.distribution);
    str(w, "subscribe_via", o.subscribe_via == SubscribeVia::message ? "message" : "query");
    num(w, "duration_s", o.duration_s);
    num(w, "warmup_s", o.warmup_s);
    u64(w, "messages", o.messages);
    key(w, "churn");
    w.Bool(o.churn);
    num(w, "slow_fraction", o.slow_fraction);
    str(w, "slow_mode", slow_mode_name(o.slow_mode));
    num(w, "slow_rate_bytes_per_s", o.slow_rate);
    u64(w, "slow_rcvbuf", o.slow_rcvbuf);
    num(w, "slow_drain_s", o.slow_drain_s);
    str(w, "latency_from", o.latency_from.empty() ? std::string("ts") : o.latency_from);
    key(w, "pids");
    w.StartArray();
    for (int p : o.pids) w.Int(p);
    w.EndArray();
    u64(w, "seed", o.seed);
    w.EndObject();
}

void connections(Writer& w, const Result& r) {
    const auto& t = r.totals;
    key(w, "connections");
    w.StartObject();
    u64(w, "target", r.options.connections);
    u64(w, "launched", t.launched);
    u64(w, "established", t.established);
    u64(w, "open_at_end", t.open);
    u64(w, "slow", r.slow_connections);
    u64(w, "churn_cycles", t.churn_cycles);
    num(w, "churn_cycles_per_s", per_s(static_cast<double>(t.churn_cycles), r.window_s + r.ramp_s));
    key(w, "failures");
    w.StartObject();
    u64(w, "total", t.failures.total());
    u64(w, "connect", t.failures.connect);
    u64(w, "fd_limit", t.failures.fd_limit);
    u64(w, "no_port", t.failures.no_port);
    u64(w, "tls", t.failures.tls);
    u64(w, "upgrade", t.failures.upgrade);
    u64(w, "timeout", t.failures.timeout);
    key(w, "http_status");
    w.StartObject();
    for (const auto& [status, n] : t.failures.http_status) u64(w, std::to_string(status).c_str(), n);
    w.EndObject();
    w.EndObject();
    latency(w, "handshake", t.handshake);
    latency(w, "ready", t.ready);
    key(w, "disconnects");
    w.StartObject();
    u64(w, "total", t.disconnect_total());
    key(w, "by_code");
    w.StartObject();
    for (const auto& [code, n] : t.disconnects) u64(w, std::to_string(code).c_str(), n);
    w.EndObject();
    w.EndObject();
    num(w, "ramp_s", r.ramp_s);
    w.EndObject();
}

void messages(Writer& w, const Result& r) {
    const auto& t = r.totals;
    const double delivered = static_cast<double>(t.delivered[0] + t.delivered[1]);
    const double bytes = static_cast<double>(t.bytes[0] + t.bytes[1]);
    key(w, "messages");
    w.StartObject();
    u64(w, "delivered", t.delivered[0] + t.delivered[1]);
    u64(w, "delivered_normal", t.delivered[0]);
    u64(w, "delivered_slow", t.delivered[1]);
    const auto book_deltas = t.delivered_books[0] + t.delivered_books[1];
    const auto trade_msgs = t.delivered_trades[0] + t.delivered_trades[1];
    u64(w, "delivered_tickers", t.delivered[0] + t.delivered[1] - book_deltas - trade_msgs);
    u64(w, "delivered_book_deltas", book_deltas);
    u64(w, "delivered_trades", trade_msgs);
    num(w, "per_s", per_s(delivered, r.window_s));
    u64(w, "bytes", t.bytes[0] + t.bytes[1]);
    num(w, "bytes_per_s", per_s(bytes, r.window_s));
    u64(w, "received_whole_run", t.received);
    u64(w, "acks", t.acks);
    u64(w, "errors", t.errors);
    u64(w, "malformed", t.malformed);
    u64(w, "control", t.control);
    u64(w, "latency_field_missing", t.latency_field_missing);
    w.EndObject();
    Histogram all = t.latency[0];
    all.merge(t.latency[1]);
    key(w, "latency");
    w.StartObject();
    latency(w, "normal", t.latency[0]);
    latency(w, "slow", t.latency[1]);
    latency(w, "all", all);
    w.EndObject();
    SeqCounts total = t.seq[0];
    total.add(t.seq[1]);
    key(w, "seq");
    w.StartObject();
    seq(w, "normal", t.seq[0]);
    seq(w, "slow", t.seq[1]);
    seq(w, "all", total);
    w.EndObject();
    BookCounts book_total = t.books[0], book50_total = t.books50[0];
    book_total.add(t.books[1]);
    book50_total.add(t.books50[1]);
    key(w, "books");
    w.StartObject();
    books(w, "normal", t.books[0], &t.books50[0]);
    books(w, "slow", t.books[1], &t.books50[1]);
    books(w, "all", book_total, &book50_total);
    w.EndObject();
    SeqCounts trade_total = t.trades[0];
    trade_total.add(t.trades[1]);
    key(w, "trades");
    w.StartObject();
    trades(w, "normal", t.trades[0]);
    trades(w, "slow", t.trades[1]);
    trades(w, "all", trade_total);
    w.EndObject();
}

void processes(Writer& w, const Result& r) {
    const auto& t = r.totals;
    const double delivered = static_cast<double>(t.delivered[0] + t.delivered[1]);
    double cpu = 0;
    long rss = 0, rss_start = 0;
    key(w, "targets");
    w.StartArray();
    for (const auto& p : r.targets) {
        w.StartObject();
        w.Key("pid");
        w.Int(p.pid);
        str(w, "name", p.name);
        num(w, "user_s", p.user_s);
        num(w, "sys_s", p.sys_s);
        num(w, "cpu_s", p.user_s + p.sys_s);
        num(w, "cpu_util", per_s(p.user_s + p.sys_s, r.window_s));
        w.Key("rss_start_kib"), w.Int64(p.rss_start_kib);
        w.Key("rss_end_kib"), w.Int64(p.rss_end_kib);
        w.Key("rss_max_kib"), w.Int64(p.rss_max_kib);
        w.Key("gone"), w.Bool(p.gone);
        w.EndObject();
        cpu += p.user_s + p.sys_s;
        rss += p.rss_end_kib;
        rss_start += p.rss_start_kib;
    }
    w.EndArray();
    const double open = static_cast<double>(t.open);
    key(w, "targets_total");
    w.StartObject();
    num(w, "cpu_s", cpu);
    w.Key("rss_kib"), w.Int64(rss);
    num(w, "cpu_us_per_message", delivered > 0 ? cpu * 1e6 / delivered : 0.0);
    num(w, "rss_kib_per_connection", open > 0 ? static_cast<double>(rss) / open : 0.0);
    num(w, "rss_added_kib_per_connection", open > 0 ? static_cast<double>(rss - rss_start) / open : 0.0);
    w.EndObject();
    key(w, "self");
    w.StartObject();
    num(w, "user_s", r.self_user_s);
    num(w, "sys_s", r.self_sys_s);
    num(w, "cpu_s", r.self_user_s + r.self_sys_s);
    num(w, "cpu_us_per_message", delivered > 0 ? (r.self_user_s + r.self_sys_s) * 1e6 / delivered : 0.0);
    w.Key("rss_kib"), w.Int64(r.self_rss_kib);
    w.Key("fd_limit"), w.Int64(r.fd_limit);
    key(w, "threads");
    w.StartArray();
    bool saturated = false;
    for (const auto& th : r.threads) {
        w.StartObject();
        num(w, "cpu_s", th.cpu_s);
        num(w, "busy", th.busy);
        w.EndObject();
        saturated = saturated || th.busy > 0.9;
    }
    w.EndArray();
    w.Key("saturated"), w.Bool(saturated);
    w.EndObject();
}

}  // namespace

std::string to_json(const Result& r) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.SetIndent(' ', 1);
    w.StartObject();
    str(w, "tool", "tickgate-load");
    w.Key("format"), w.Int(1);
    str(w, "label", r.options.label);
    str(w, "started_at", r.started_at);
    w.Key("ok"), w.Bool(r.ok);
    str(w, "error", r.error);
    parameters(w, r);
    num(w, "window_s", r.window_s);
    connections(w, r);
    messages(w, r);
    processes(w, r);
    key(w, "warnings");
    w.StartArray();
    for (const auto& s : r.warnings) w.String(s.c_str());
    w.EndArray();
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::string summary(const Result& r) {
    const auto& t = r.totals;
    const double delivered = static_cast<double>(t.delivered[0] + t.delivered[1]);
    char line[512];
    std::string out;
    auto add = [&](const char* fmt, auto... args) {
        std::snprintf(line, sizeof line, fmt, args...);
        out += line;
    };
    add("tickgate-load%s%s: %.1f s window, %llu/%u connections open (%llu failed, %llu disconnected)\n",
        r.options.label.empty() ? "" : " ", r.options.label.c_str(), r.window_s,
        static_cast<unsigned long long>(t.open), r.options.connections,
        static_cast<unsigned long long>(t.failures.total()), static_cast<unsigned long long>(t.disconnect_total()));
    add("  delivered %.0f msgs/s, %.2f MB/s; snapshots %llu\n", per_s(delivered, r.window_s),
        per_s(static_cast<double>(t.bytes[0] + t.bytes[1]), r.window_s) / 1e6,
        static_cast<unsigned long long>(t.seq[0].snapshots + t.seq[1].snapshots + t.books[0].snapshots +
                                        t.books[1].snapshots));
    for (int c = 0; c < 2; ++c) {
        const auto& h = t.latency[c];
        if (c == 1 && r.slow_connections == 0) break;
        add("  latency %-6s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (%llu msgs)\n",
            c == 0 ? "normal" : "slow", ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)),
            ms(h.quantile(0.999)), ms(h.max()), static_cast<unsigned long long>(h.count()));
    }
    for (int c = 0; c < 2; ++c) {
        const auto& s = t.seq[c];
        if (c == 1 && r.slow_connections == 0) break;
        add("  seq %-6s gaps %llu (missing %llu), duplicates %llu, reordered %llu\n", c == 0 ? "normal" : "slow",
            static_cast<unsigned long long>(s.gaps), static_cast<unsigned long long>(s.missing),
            static_cast<unsigned long long>(s.duplicates), static_cast<unsigned long long>(s.reordered));
    }
    const bool any_books = t.books[0].messages + t.books[1].messages > 0;
    const bool any_trades = t.trades[0].updates + t.trades[1].updates > 0;
    for (int c = 0; c < 2 && any_books; ++c) {
        const auto& b = t.books[c];
        if (c == 1 && r.slow_connections == 0) break;
        const auto& b50 = t.books50[c];
        add("  books %-6s %llu msgs (%llu snapshots): chain breaks %llu, checksum failures %llu, unverified %llu, "
            "malformed %llu, over depth %llu (book50: %llu breaks, %llu checksum failures)\n",
            c == 0 ? "normal" : "slow", static_cast<unsigned long long>(b.messages),
            static_cast<unsigned long long>(b.snapshots), static_cast<unsigned long long>(b.chain_breaks),
            static_cast<unsigned long long>(b.checksum_failures), static_cast<unsigned long long>(b.unverified),
            static_cast<unsigned long long>(b.malformed), static_cast<unsigned long long>(b.depth_exceeded),
            static_cast<unsigned long long>(b50.chain_breaks), static_cast<unsigned long long>(b50.checksum_failures));
    }
    for (int c = 0; c < 2 && any_trades; ++c) {
        const auto& s = t.trades[c];
        if (c == 1 && r.slow_connections == 0) break;
        add("  trades %-6s %llu msgs: gaps %llu (missing %llu), duplicates %llu, reordered %llu\n",
            c == 0 ? "normal" : "slow", static_cast<unsigned long long>(s.updates),
            static_cast<unsigned long long>(s.gaps), static_cast<unsigned long long>(s.missing),
            static_cast<unsigned long long>(s.duplicates), static_cast<unsigned long long>(s.reordered));
    }
    if (any_books || any_trades)
        add("  delivered in the window: %llu tickers, %llu book deltas, %llu trades\n",
            static_cast<unsigned long long>(t.delivered[0] + t.delivered[1] - t.delivered_books[0] - t.delivered_books[1] -
                                            t.delivered_trades[0] - t.delivered_trades[1]),
            static_cast<unsigned long long>(t.delivered_books[0] + t.delivered_books[1]),
            static_cast<unsigned long long>(t.delivered_trades[0] + t.delivered_trades[1]));
    add("  handshake p50 %.2f  p99 %.2f ms; ready (subscribed) p50 %.2f  p99 %.2f ms\n", ms(t.handshake.quantile(0.5)),
        ms(t.handshake.quantile(0.99)), ms(t.ready.quantile(0.5)), ms(t.ready.quantile(0.99)));
    if (t.churn_cycles > 0)
        add("  churn: %llu connect+upgrade+subscribe+ack cycles, %.0f/s\n", static_cast<unsigned long long>(t.churn_cycles),
            per_s(static_cast<double>(t.churn_cycles), r.window_s + r.ramp_s));
    for (const auto& p : r.targets)
        add("  pid %d (%s): cpu %.2f s (%.1f%%), %.2f us/msg, rss %ld KiB (%.1f KiB/connection)\n", p.pid, p.name.c_str(),
            p.user_s + p.sys_s, 100 * per_s(p.user_s + p.sys_s, r.window_s),
            delivered > 0 ? (p.user_s + p.sys_s) * 1e6 / delivered : 0.0, p.rss_end_kib,
            t.open > 0 ? static_cast<double>(p.rss_end_kib) / static_cast<double>(t.open) : 0.0);
    add("  tickgate-load: cpu %.2f s (%.1f%% of one core), %.2f us/msg\n", r.self_user_s + r.self_sys_s,
        100 * per_s(r.self_user_s + r.self_sys_s, r.window_s),
        delivered > 0 ? (r.self_user_s + r.self_sys_s) * 1e6 / delivered : 0.0);
    for (const auto& w : r.warnings) out += "  warning: " + w + "\n";
    return out;
}

}  // namespace tickgate::load
