// make_feed: the --feed SPEC grammar. Each kind of feed is one entry of kFeedKinds; a later kind
// (a "nats://" subscriber, say) is one more parse function and one more row.

#include <charconv>
#include <cmath>
#include <string>

#include "feeds/feed_adapter.hpp"
#include "feeds/nats_feed.hpp"
#include "feeds/replay_feed.hpp"
#include "feeds/simulator_feed.hpp"

namespace tickgate::feeds {
namespace {

using FeedBuilder = std::unique_ptr<FeedAdapter> (*)(std::string_view rest, const SimulatorOptions& sim,
                                                    const NatsOptions& nats, std::uint16_t feed_index,
                                                    std::string& error);

std::unique_ptr<FeedAdapter> make_simulator(std::string_view, const SimulatorOptions& sim, const NatsOptions&,
                                            std::uint16_t feed_index, std::string& error) {
    if (sim.symbols == 0) {
        error = "the simulator needs at least one symbol";
        return nullptr;
    }
    if (!(sim.rate > 0) || !std::isfinite(sim.rate)) {
        error = "the simulator rate must be a positive number of updates per second";
        return nullptr;
    }
    if (!(sim.book_rate >= 0) || !std::isfinite(sim.book_rate) || !(sim.trade_rate >= 0) ||
        !std::isfinite(sim.trade_rate)) {
        error = "the simulator book and trade rates must be numbers of changes per second, 0 or more";
        return nullptr;
    }
    return std::make_unique<SimulatorFeed>(sim, feed_index);
}

bool parse_speed(std::string_view text, double& speed) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, speed);
    return ec == std::errc{} && ptr == end && speed > 0 && std::isfinite(speed);
}

// rest = "FILE[,speed=X][,loop]". A file name cannot contain a comma.
std::unique_ptr<FeedAdapter> make_replay(std::string_view rest, const SimulatorOptions&, const NatsOptions&,
                                         std::uint16_t feed_index, std::string& error) {
    ReplayOptions options;
    const std::size_t comma = rest.find(',');
    options.file = std::string(rest.substr(0, comma));
    if (options.file.empty()) {
        error = "replay feed needs a file name: replay:FILE[,speed=X][,loop]";
        return nullptr;
    }
    std::string_view opts = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (comma != std::string_view::npos) {
        const std::size_t next = opts.find(',');
        const std::string_view opt = opts.substr(0, next);
        if (opt == "loop") {
            options.loop = true;
        } else if (opt.starts_with("speed=")) {
            if (!parse_speed(opt.substr(6), options.speed)) {
                error = "replay speed must be a positive number, not '" + std::string(opt.substr(6)) + "'";
                return nullptr;
            }
        } else {
            error = "unknown replay option '" + std::string(opt) + "' (expected speed=X or loop)";
            return nullptr;
        }
        if (next == std::string_view::npos) break;
        opts.remove_prefix(next + 1);
    }
    return ReplayFeed::open(options, feed_index, error);
}

// rest = "HOST:PORT[,HOST:PORT...]".
std::unique_ptr<FeedAdapter> make_nats(std::string_view rest, const SimulatorOptions&, const NatsOptions& nats,
                                       std::uint16_t feed_index, std::string& error) {
    return NatsFeed::create(rest, nats, feed_index, error);
}

struct FeedKind {
    std::string_view prefix;  // the spec starts with it; the builder gets what follows
    bool exact;               // the whole spec must equal prefix (rest is then empty)
    FeedBuilder build;
};

constexpr FeedKind kFeedKinds[] = {
    {"sim", true, make_simulator},
    {"replay:", false, make_replay},
    {"nats://", false, make_nats},
};

}  // namespace

std::unique_ptr<FeedAdapter> make_feed(std::string_view spec, const SimulatorOptions& sim, const NatsOptions& nats,
                                       std::uint16_t feed_index, std::string& error) {
    for (const FeedKind& kind : kFeedKinds) {
        if (kind.exact ? spec == kind.prefix : spec.starts_with(kind.prefix))
            return kind.build(spec.substr(kind.prefix.size()), sim, nats, feed_index, error);
    }
    error = "unknown feed '" + std::string(spec) +
            "' (expected sim, replay:FILE[,speed=X][,loop] or nats://HOST:PORT[,HOST:PORT...])";
    return nullptr;
}

std::unique_ptr<FeedAdapter> make_feed(std::string_view spec, const SimulatorOptions& sim, std::uint16_t feed_index,
                                       std::string& error) {
    return make_feed(spec, sim, NatsOptions{}, feed_index, error);
}

}  // namespace tickgate::feeds
