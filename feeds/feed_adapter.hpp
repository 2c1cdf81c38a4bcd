#pragma once
// The interface every feed implements, and the factory that turns a --feed SPEC into one.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "feeds/update_channel.hpp"
#include "protocol/model/published_message.hpp"

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
    // While per-topic messages keep coming, the reader takes them at most once per this long, all
    // at once (0: every readiness at once): fewer wake-ups per update, for at most this much
    // latency (500 µs cut the thread reader's wake-ups from 0.71 to 0.19 per update at 10,000/s,
    // bench/README.md, issue 12). A message after a quiet spell is read at once; batches are
    // never held.
    std::uint32_t read_coalesce_us = 500;
    // The gateway's --history (0: off). When on, a (re)connect reads the last `history` messages
    // per subject from JetStream, not only the last, and forwards the stored trades and client
    // messages too: the gateway's history then covers what happened before it listened.
    std::uint32_t history = 0;
};

struct UpstreamStats;

/// What a feed that links gateways (NATS) offers besides market data: client-published messages,
/// sequenced by one publisher for every gateway, and operator announcements. The gateway wires it
/// to its broadcast engine before run().
class MessageBus {
public:
    virtual ~MessageBus() = default;
    struct PublishOutcome {
        std::uint64_t seq = 0;  // the seq the publisher assigned
        std::string error;      // empty on success; else a one-line reason (publisher unreachable, refused)
    };
    using MessageSink = std::function<void(protocol::PublishedMessage)>;
    using AnnouncementSink = std::function<void(protocol::Announcement)>;
    /// Before run(): where sequenced messages from the bus go, every gateway's (this one's too), in
    /// seq order per topic. Called on the feed's reading thread.
    virtual void set_message_sink(MessageSink sink) = 0;
    /// Before run(): where other gateways' announcements go (never this gateway's own).
    virtual void set_announcement_sink(AnnouncementSink sink) = 0;
    /// Any thread: asks the publisher to sequence and publish `message` (seq 0). `done` runs once,
    /// on a thread of the feed's, with the seq or an error.
    virtual void forward_publish(protocol::PublishedMessage message, std::function<void(PublishOutcome)> done) = 0;
    /// Any thread: the announcement to every other gateway.
    virtual void forward_announcement(const protocol::Announcement& announcement) = 0;
};

/// Where a feed driven from its consumer's thread puts its updates (see FeedAdapter::produce_due).
class UpdateSink {
public:
    virtual void put(const protocol::MarketUpdate& u) = 0;

protected:
    ~UpdateSink() = default;
};

class FeedAdapter {
public:
    using Clock = std::chrono::steady_clock;
    virtual ~FeedAdapter() = default;
    /// Stable name used in logs, metrics labels and status messages ("sim", "replay:ticks.jsonl").
    virtual const std::string& name() const = 0;
    /// Runs on the feed's own thread until `stop` is requested or the feed ends (a replay without
    /// loop). Every update it publishes has `feed` set to the adapter's feed index, a topic, `seq`
    /// rising by 1 per topic and `ts` set to when it was produced.
    virtual void run(std::stop_token stop, UpdateChannel& out) = 0;
    /// A paced local feed that its consumer may drive from its own thread instead of run() on a
    /// thread of the feed's: tickgate-feed's publish loop, which then wakes once per event rather
    /// than the feed's thread and then its own (a thread hop, and a wake-up, per update).
    virtual bool can_run_on_consumer_thread() const noexcept { return false; }
    /// Only where can_run_on_consumer_thread(), and never beside run(): puts every update due by
    /// `now` into `sink`, each with the ts of when it was due (a consumer busy elsewhere makes
    /// them late: that counts in their latency), and returns when the next one is due. The first
    /// call starts the pacing.
    virtual Clock::time_point produce_due(Clock::time_point /*now*/, UpdateSink& /*sink*/) { return Clock::time_point::max(); }
    /// A feed fed over the network reports its upstream (for /metrics); local feeds have none.
    virtual const UpstreamStats* upstream_stats() const noexcept { return nullptr; }
    /// Updates a paced feed never produced because its thread ran too late to catch up (a busy
    /// machine): the offered rate fell short by this many. Any thread.
    virtual std::uint64_t updates_dropped_late() const noexcept { return 0; }
    /// Before run(): an event loop the feed may do its network reading on instead of a thread of
    /// its own (the gateway offers worker 0's, where the engine drains the ring: no thread hop
    /// between a message's arrival and its fan-out). It must run until run() has returned.
    virtual void offer_event_loop(boost::asio::io_context&) {}
    /// The feed's link to other gateways, or null (local feeds).
    virtual MessageBus* message_bus() noexcept { return nullptr; }
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
