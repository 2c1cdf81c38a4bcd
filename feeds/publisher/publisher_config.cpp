#include "feeds/publisher/publisher_config.hpp"

#include <boost/program_options.hpp>

#include "feeds/feed_flags.hpp"
#include "feeds/nats_bus.hpp"
#include "feeds/runtime/command_line.hpp"

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
    if (c.sim.book_rate != 0 || c.sim.trade_rate != 0)
        return "tickgate-feed publishes tickers only: books and trades do not cross the bus yet";
    for (const auto& f : c.feeds)
        if (f.starts_with("nats://")) return "--feed " + f + ": a publisher's feeds are local (sim or replay:...)";
    if (c.bus_version != 1 && c.bus_version != 2) return "--bus-version must be 1 or 2";
    if (!valid_prefix(c.subject_prefix)) return "--subject-prefix must be NATS tokens without wildcards, like md";
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
        ("metrics-listen", po::value(&metrics_listen)->default_value("127.0.0.1:9465"), "HOST:PORT for Prometheus /metrics");
    // clang-format on
    // Tickers only: books and trades do not cross the bus yet, so --book-rate and --trade-rate are
    // unknown options here (a one-line "unrecognised option" error, exit 2).
    feeds::add_feed_flags(d, c.feeds, c.sim, "feed SPEC, repeatable: sim | replay:FILE[,speed=X][,loop]",
                          feeds::SimulatorChannels::tickers);
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
