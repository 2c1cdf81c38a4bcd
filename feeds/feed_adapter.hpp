#pragma once
// The interface every feed implements, and the factory that turns a --feed SPEC into one.

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "feeds/update_channel.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tickgate::feeds {

/// Simulator settings (--symbols, --rate, --seed, --book-rate, --trade-rate).
struct SimulatorOptions {
    std::uint32_t symbols = 20;   // realistic pairs first, then synthetic ones of the same form
    double rate = 1000;           // ticker updates per second over all symbols, spread evenly in time
    std::uint64_t seed = 1;       // same seed, same sequence of prices
    // Order books and trades (topics book.<SYM>, trade.<SYM>). Both 0: tickers only, exactly the
    // sequence the simulator had before books.
    double book_rate = 0;         // book changes per second over all symbols (each trade's change on top)
    double trade_rate = 0;        // trades per second over all symbols
};

/// NATS subscriber settings (--feed nats://..., --nats-subjects, --max-topics).
struct NatsOptions {
    std::string subjects = "md.>";      // what tickgate-feed publishes with its default prefix
    // The publisher's batched live subject (tickgate-feed --live-batches): "auto" (PREFIX-live
    // when subjects is PREFIX.>), "none", or a subject.
    std::string live_subject = "auto";
    std::uint32_t max_topics = 100000;  // topics the feed tracks; a stray publisher cannot grow it further
    // Where nats.c reads: "worker", on the event loop the gateway offers (worker 0's, where the
    // broadcast engine drains the ring), or "thread", on an event loop of the feed's own thread.
    std::string reader = "worker";
};

struct UpstreamStats;

class FeedAdapter {
public:
    virtual ~FeedAdapter() = default;
    /// Stable name used in logs, metrics labels and status messages ("sim", "replay:ticks.jsonl").
    virtual const std::string& name() const = 0;
    /// Runs on the feed's own thread until `stop` is requested or the feed ends (a replay without
    /// loop). Every update it publishes has `feed` set to the adapter's feed index, a topic, `seq`
    /// rising by 1 per topic and `ts` set to when it was produced.
    virtual void run(std::stop_token stop, UpdateChannel& out) = 0;
    /// A feed fed over the network reports its upstream (for /metrics); local feeds have none.
    virtual const UpstreamStats* upstream_stats() const noexcept { return nullptr; }
    /// Updates a paced feed never produced because its thread ran too late to catch up (a busy
    /// machine): the offered rate fell short by this many. Any thread.
    virtual std::uint64_t updates_dropped_late() const noexcept { return 0; }
    /// Before run(): an event loop the feed may do its network reading on instead of a thread of
    /// its own (the gateway offers worker 0's, where the engine drains the ring: no thread hop
    /// between a message's arrival and its fan-out). It must run until run() has returned.
    virtual void offer_event_loop(boost::asio::io_context&) {}
};

/// Builds the adapter for a --feed SPEC: "sim", "replay:FILE[,speed=X][,loop]" or
/// "nats://HOST:PORT[,HOST:PORT...]". Returns null and sets `error` (one line naming the problem)
/// for a malformed spec or an unreadable replay file.
std::unique_ptr<FeedAdapter> make_feed(std::string_view spec, const SimulatorOptions& sim, const NatsOptions& nats,
                                       std::uint16_t feed_index, std::string& error);
/// The same with default NATS options.
std::unique_ptr<FeedAdapter> make_feed(std::string_view spec, const SimulatorOptions& sim, std::uint16_t feed_index,
                                       std::string& error);

}  // namespace tickgate::feeds
