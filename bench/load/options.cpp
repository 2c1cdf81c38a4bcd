#include "bench/load/options.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <sstream>
#include <thread>

namespace tickgate::load {
namespace po = boost::program_options;

std::optional<Url> parse_url(std::string_view text) {
    Url u;
    if (text.starts_with("wss://")) {
        u.tls = true;
        text.remove_prefix(6);
    } else if (text.starts_with("ws://")) {
        u.tls = false;
        text.remove_prefix(5);
    } else {
        return std::nullopt;
    }
    const auto slash = text.find('/');
    const auto authority = text.substr(0, slash);
    u.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    u.port = u.tls ? 443 : 80;
    if (colon != std::string_view::npos) {
        const auto port = authority.substr(colon + 1);
        unsigned value = 0;
        if (std::from_chars(port.data(), port.data() + port.size(), value).ec != std::errc{} || value == 0 || value > 65535)
            return std::nullopt;
        u.port = static_cast<std::uint16_t>(value);
    }
    if (u.host.empty()) return std::nullopt;
    return u;
}

namespace {

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream in(list);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

std::string check(Options& o, const po::variables_map& vm) {
    if (o.connections == 0) return "--connections must be at least 1";
    if (o.per_connection == 0) return "--per-connection must be at least 1";
    if (o.duration_s <= 0) return "--duration must be positive";
    if (o.slow_fraction < 0 || o.slow_fraction > 1) return "--slow-fraction must be within [0, 1]";
    if (o.distribution != "uniform" && !o.distribution.starts_with("zipf")) return "--distribution is uniform or zipf[:S]";
    if (o.slow_fraction > 0 && o.slow_mode == SlowMode::none) return "--slow-fraction needs --slow-mode stall|rate:BYTES_PER_S";
    if (o.slow_drain_s < 0) return "--slow-drain must not be negative";
    if (o.protocol == WireProtocol::socketio) {
        if (o.topics.empty()) return "--protocol socketio needs --topics (Socket.IO servers have no topic list)";
        if (vm["url"].defaulted()) o.url.target = "/socket.io/?EIO=4&transport=websocket";
        if (o.subscribe_via == SubscribeVia::query) return "--subscribe-via query is for protocol v1 only";
    }
    if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
    if (o.sources == 0) o.sources = (o.connections + 499) / 500;
    return {};
}

}  // namespace

ParseResult parse_command_line(int argc, char* argv[]) {
    ParseResult r;
    Options& o = r.options;
    std::string url = "wss://127.0.0.1:8443/ws", protocol = "v1", topics, via = "message", slow_mode = "none";
    std::vector<std::string> draws;
    std::string slow_topics;
    po::options_description desc(
        "tickgate-load: opens many WebSocket clients against a tickgate (or a peer) and measures delivery,\n"
        "latency (receive time - ts), seq gaps, connection outcomes and the target processes' CPU and memory.\n"
        "Options");
    desc.add_options()
        ("help,h", "this text")
        ("url", po::value(&url)->default_value(url), "ws:// or wss:// endpoint")
        ("protocol", po::value(&protocol)->default_value(protocol), "v1 (tickgate) or socketio (Engine.IO v4 over WebSocket)")
        ("connections,n", po::value(&o.connections)->default_value(o.connections), "clients held open together")
        ("connect-rate", po::value(&o.connect_rate)->default_value(o.connect_rate), "new connections per second (0: as fast as possible)")
        ("sources", po::value(&o.sources)->default_value(o.sources), "loopback source addresses 127.0.0.2.. (0: one per 500 connections)")
        ("threads,t", po::value(&o.threads)->default_value(o.threads), "threads, one io_context each (0: all cores)")
        ("topics", po::value(&topics), "comma-separated topics or patterns to draw from (default: the server's op list)")
        ("per-connection,k", po::value(&o.per_connection)->default_value(o.per_connection), "topics per connection")
        ("draw", po::value(&draws)->composing(),
         "PATTERN=K (repeatable): each connection takes K of the topics (of --topics or the server's list) that "
         "PATTERN matches, e.g. --draw 'book.*=2' --draw 'trade.*=2' --draw 'ticker.*=2'; replaces --per-connection")
        ("slow-topics", po::value(&slow_topics),
         "comma-separated topics or patterns the slow clients subscribe to instead of their draw, e.g. "
         "'book.*,book50.*,trade.*' to give stalled clients enough traffic to outgrow the kernel's socket buffers "
         "(megabytes on loopback) within a short run")
        ("distribution", po::value(&o.distribution)->default_value(o.distribution), "uniform or zipf[:S] over the topic list's order")
        ("subscribe-via", po::value(&via)->default_value(via), "message ({\"op\":\"subscribe\"}) or query (/ws?subscribe=)")
        ("duration,d", po::value(&o.duration_s)->default_value(o.duration_s), "seconds measured, once every connection is up")
        ("warmup", po::value(&o.warmup_s)->default_value(o.warmup_s), "seconds between the last connection and the window")
        ("messages", po::value(&o.messages)->default_value(o.messages), "end after this many updates delivered (0: off)")
        ("churn", po::bool_switch(&o.churn), "connect, subscribe, await the ack, close and reconnect, for --duration")
        ("slow-fraction", po::value(&o.slow_fraction)->default_value(o.slow_fraction), "share of connections that read slowly")
        ("slow-mode", po::value(&slow_mode)->default_value(slow_mode), "stall (never read) or rate:BYTES_PER_S")
        ("slow-rcvbuf", po::value(&o.slow_rcvbuf)->default_value(o.slow_rcvbuf),
         "SO_RCVBUF of slow clients, set before connecting (0: the kernel's autotuning, which on loopback lets a "
         "stalled client's socket hold megabytes, so the server's backlog never builds)")
        ("slow-drain", po::value(&o.slow_drain_s)->default_value(o.slow_drain_s),
         "seconds that stalled clients read after the window (before the close), so what the server kept for them "
         "(merged book deltas, conflated tickers) is read and checked; 0: never read")
        ("pid", po::value(&o.pids)->composing(), "process to sample from /proc (repeatable)")
        ("out,o", po::value(&o.out), "JSON result file")
        ("label", po::value(&o.label), "name recorded in the result (e.g. the scenario)")
        ("ca", po::value(&o.ca_file), "verify the server certificate against this PEM file (default: no verification)")
        ("seed", po::value(&o.seed)->default_value(o.seed), "random seed for topic and slow-connection choice")
        ("quiet,q", po::bool_switch(&o.quiet), "no progress line per second")
        ("latency-from", po::value(&o.latency_from),
         "FIELD: measure latency from this integer field (ns since the Unix epoch) found after ts, e.g. sent_ns "
         "when a publisher writes {\"sent_ns\":<its send time>} as a published message's data: publish to "
         "receipt instead of sequencer stamp (ts) to receipt; updates without it are counted "
         "(messages.latency_field_missing), not measured (default: ts)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        r.exit_code = 2;
        r.text = std::string("tickgate-load: ") + e.what() + " (see --help)";
        return r;
    }
    if (vm.count("help")) {
        std::ostringstream s;
        s << desc;
        r.exit_code = 0;
        r.text = s.str();
        return r;
    }
    auto fail = [&](std::string message) {
        r.exit_code = 2;
        r.text = "tickgate-load: " + message;
        return r;
    };
    const auto parsed = parse_url(url);
    if (!parsed) return fail("--url must be ws://HOST:PORT/PATH or wss://HOST:PORT/PATH, got " + url);
    o.url = *parsed;
    if (protocol == "v1") o.protocol = WireProtocol::v1;
    else if (protocol == "socketio") o.protocol = WireProtocol::socketio;
    else return fail("--protocol is v1 or socketio, got " + protocol);
    if (via == "message") o.subscribe_via = SubscribeVia::message;
    else if (via == "query") o.subscribe_via = SubscribeVia::query;
    else return fail("--subscribe-via is message or query, got " + via);
    if (slow_mode == "none") o.slow_mode = SlowMode::none;
    else if (slow_mode == "stall") o.slow_mode = SlowMode::stall;
    else if (slow_mode.starts_with("rate:")) {
        o.slow_mode = SlowMode::rate;
        try {
            o.slow_rate = std::stod(slow_mode.substr(5));
        } catch (const std::exception&) {
            o.slow_rate = 0;
        }
        if (o.slow_rate <= 0) return fail("--slow-mode rate:BYTES_PER_S needs a positive rate, got " + slow_mode);
    } else return fail("--slow-mode is stall or rate:BYTES_PER_S, got " + slow_mode);
    o.topics = split(topics);
    for (const auto& d : draws) {
        DrawGroup g;
        if (!parse_draw_group(d, g)) return fail("--draw is PATTERN=K with K at least 1, got " + d);
        o.draws.push_back(std::move(g));
    }
    o.slow_topics = split(slow_topics);
    // A plain key: it is searched for quoted, with no unescaping.
    if (o.latency_from.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
        std::string::npos)
        return fail("--latency-from is a field name of letters, digits and _, got " + o.latency_from);
    if (o.latency_from == "ts") o.latency_from.clear();  // the default, without the extra search
    if (auto problem = check(o, vm); !problem.empty()) return fail(problem);
    return r;
}

}  // namespace tickgate::load
