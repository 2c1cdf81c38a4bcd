#include "feeds/publisher/publisher_config.hpp"

#include <boost/program_options.hpp>

#include "feeds/feed_flags.hpp"
#include "feeds/nats_bus.hpp"
#include "feeds/runtime/command_line.hpp"
#include "protocol/bus_update.hpp"

namespace tickgate::publisher {
namespace po = boost::program_options;

namespace {

// A prefix is one or more NATS tokens without wildcards, so "<prefix>.>" is a valid stream subject.
bool valid_prefix(const std::string& p) {
    if (p.empty() || p.front() == '.' || p.back() == '.' || p.find("..") != std::string::npos) return false;
    for (char c : p)
        if (c == '*' || c == '>' || c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x20) return false;
    return true;
}

std::optional<std::string> validate(PublisherConfig& c) {
    if (auto problem = feeds::validate_feed_flags(c.feeds, c.sim)) return problem;
    for (const auto& f : c.feeds)
        if (f.starts_with("nats://")) return "--feed " + f + ": a publisher's feeds are local (sim or replay:...)";
    if (c.bus_version != 1 && c.bus_version != 2) return "--bus-version must be 1 or 2";
    if (!valid_prefix(c.subject_prefix)) return "--subject-prefix must be NATS tokens without wildcards, like md";
    if (c.live_batches && c.bus_version != 2) return "--live-batches needs --bus-version 2";
    // v1 is one ticker per message: books and trades are v2 record types.
    if ((c.sim.book_rate != 0 || c.sim.trade_rate != 0) && c.bus_version != 2)
        return "--book-rate and --trade-rate need --bus-version 2";
    if (c.flush_window_us > 100000) return "--flush-window-us must be at most 100000 (0.1 s)";
    if (c.feed_thread != "auto" && c.feed_thread != "own") return "--feed-thread must be auto or own";
    if (c.history < 1 || c.history > 1000000) return "--history must be 1 to 1000000";
    if (c.stream_storage != "file" && c.stream_storage != "memory") return "--stream-storage must be file or memory";
    // A batch names each update's subject in a byte: <prefix>.<topic> must fit in 255.
    if (c.live_batches && c.subject_prefix.size() + 1 + protocol::kMaxTopicLength > protocol::kBusMaxGroupSubject)
        return "--live-batches needs a --subject-prefix of at most " +
               std::to_string(protocol::kBusMaxGroupSubject - 1 - protocol::kMaxTopicLength) + " characters";
    if (c.live_batches) c.live_subject = feeds::live_subject_for_prefix(c.subject_prefix);
    std::string error;
    if (!feeds::parse_nats_servers(c.nats, c.nats_urls, error)) return "--nats: " + error;
    return runtime::validate_log_level(c.log_level);
}

}  // namespace

ParseOutcome parse_command_line(int argc, const char* const argv[]) {
    ParseOutcome out;
    PublisherConfig& c = out.config;
    std::string metrics_listen, config_file;
    po::options_description d(
        "tickgate-feed options (every option may also be set in --config FILE as key = value)");
    // clang-format off
    d.add_options()
        ("help", "print this help and exit")
        ("version", "print the version and exit")
        ("config", po::value(&config_file), "read options from FILE (key = value lines; flags override it)")
        ("nats", po::value(&c.nats)->default_value(c.nats), "NATS servers: nats://HOST:PORT[,HOST:PORT...]")
        ("subject-prefix", po::value(&c.subject_prefix)->default_value(c.subject_prefix), "publish to PREFIX.<channel>.<symbol>")
        ("bus-version", po::value(&c.bus_version)->default_value(c.bus_version), "bus encoding to publish: 1, or 2 (typed records; every gateway must read v2 first)")
        ("live-batches", po::bool_switch(&c.live_batches), "also publish updates in batches on PREFIX-live (needs --bus-version 2; gateways read it instead of the per-topic subjects)")
        ("flush-window-us", po::value(&c.flush_window_us)->default_value(c.flush_window_us), "in a burst, send updates together at most once per this many µs (0: at once)")
        ("feed-thread", po::value(&c.feed_thread)->default_value(c.feed_thread), "auto: a lone simulator without a flush window runs on the publish thread (one wake-up per event, no ring); own: every feed on a thread of its own")
        ("history", po::value(&c.history)->default_value(c.history), "messages JetStream keeps per subject: 1, the latest values; more, the history gateways with --history backfill from (an existing stream is updated)")
        ("stream-storage", po::value(&c.stream_storage)->default_value(c.stream_storage), "where JetStream keeps the stream: file (its latest values, history and the seqs a restarted publisher continues outlive a nats-server restart) or memory (lost with it; a shorter bus p99 on nats-server 2.9). Applies when the stream is created")
        ("metrics-listen", po::value(&metrics_listen)->default_value("127.0.0.1:9465"), "HOST:PORT for Prometheus /metrics");
    // clang-format on
    feeds::add_feed_flags(d, c.feeds, c.sim, "feed SPEC, repeatable: sim | replay:FILE[,speed=X][,loop]");
    runtime::add_log_level_flag(d, c.log_level);
    po::variables_map vm;
    if (!runtime::parse_flags_and_config_file("tickgate-feed", argc, argv, d, vm, out.exit_code, out.text)) return out;
    const auto metrics_ep = runtime::parse_endpoint(metrics_listen);
    if (!metrics_ep) {
        out.text = "tickgate-feed: --metrics-listen must be HOST:PORT, got '" + metrics_listen + "'";
        out.exit_code = 2;
        return out;
    }
    c.metrics_listen = *metrics_ep;
    if (auto problem = validate(c)) {
        out.text = "tickgate-feed: " + *problem;
        out.exit_code = 2;
    }
    return out;
}

}  // namespace tickgate::publisher
