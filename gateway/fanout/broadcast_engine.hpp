#pragma once
// The broadcast engine drains the ring, gives each topic a dense id and an owning feed, encodes
// each update once into a shared frame, and hands the batch to every worker. It also watches feed
// freshness and announces state changes. A feed fed over the network is stale the moment its
// upstream connection drops, not --stale-ms later, and stays stale after the reconnect until an
// update has come through again.
//
// It runs on worker 0's thread, woken through the ring's eventfd in that worker's own epoll, not on
// a thread of its own: on a VM every thread hop is a syscall on each side plus an IPI, and a
// dedicated engine thread cost one more hop (and one more sleep) per update than the workers need.
// Worker 0's own batch is then a post to its own queue, which asio runs without a wake-up.
//
// Client-published messages (rooms such as chat.lobby) take the same road from worker 0 on: a
// dense topic id per room, one serialization, one batch per worker. They never pass through the
// ring (their data has any size): submit_publish and deliver_published hand them to worker 0.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "feeds/update_channel.hpp"
#include "feeds/upstream_stats.hpp"
#include "gateway/config.hpp"
#include "gateway/fanout/frame.hpp"
#include "gateway/stats.hpp"
#include "protocol/errors.hpp"
#include "protocol/model/published_message.hpp"

namespace tickgate::feeds {
class MessageBus;
}

namespace tickgate::gateway {

class Worker;
class NewestSeqTable;
class TopicHistory;
struct UpdateBatch;

struct FeedHealth {
    std::string name;
    bool fresh = false;
    std::int64_t age_ms = 0;  // since its last update (or since start, before the first)
    std::uint64_t updates = 0;
};

/// What became of a submitted publish: its seq, or why it was refused.
struct PublishResult {
    std::uint64_t seq = 0;
    std::optional<protocol::ErrorCode> error;
    std::string message;  // with an error: one line for the client
};

/// What became of published messages, as tickgate_published_messages_total{result} counts them.
enum class PublishedResult : std::uint8_t {
    delivered,        // sequenced and handed to every worker (this gateway's or, on NATS, any gateway's)
    rate_limited,     // over --publish-rate for its channel
    too_many_topics,  // would have opened a room past --max-publish-topics
    unavailable,      // the bus could not sequence it (publisher unreachable, or shutting down)
    stale,            // from the bus with a seq not above its room's last: dropped
    dropped,          // from the bus for a room this gateway does not serve (not publishable, or past the limit)
    count_,
};
std::string_view published_result_name(PublishedResult r) noexcept;

class BroadcastEngine {
public:
    /// upstreams: per feed, what its adapter reports of its upstream connection, or null (a local
    /// feed); empty means no feed has one.
    BroadcastEngine(const Config& config, feeds::UpdateChannel& channel, std::vector<std::string> feed_names,
                    std::vector<Worker*> workers, NewestSeqTable& newest,
                    std::vector<const feeds::UpstreamStats*> upstreams = {});
    ~BroadcastEngine();

    /// Starts draining on worker 0's thread. The workers must be running.
    void start();
    /// Stops draining, on worker 0's thread, and waits for that: call it while worker 0 still runs.
    /// The engine must be destroyed before the workers (its handles belong to worker 0).
    void stop();

    // Any thread.
    std::vector<FeedHealth> feed_health() const;
    std::uint64_t conflicts() const noexcept { return conflicts_.get(); }
    std::uint64_t topic_limit_drops() const noexcept { return topic_limit_drops_.get(); }
    std::size_t topic_count() const noexcept { return topic_count_.load(std::memory_order_relaxed); }
    /// Time the engine waited for workers that were behind (back-pressure towards the ring).
    std::uint64_t worker_backpressure_waits() const noexcept { return backpressure_waits_.get(); }

    // Client publishing (rooms on --publish-channels).
    /// Any thread. Rate limit per channel (--publish-rate), --max-publish-topics, then: with a
    /// message bus set, forward (the bus's publisher assigns seq; the message comes back through
    /// deliver_published); otherwise assign the next per-topic seq and ts and deliver now.
    /// `done` runs once on worker 0's thread. `m.topic` must be a room on a publishable channel
    /// (anything else is refused as forbidden); `m.from` and `m.data` are the caller's.
    void submit_publish(protocol::PublishedMessage m, std::function<void(PublishResult)> done);
    /// Any thread: a message sequenced elsewhere (the bus); delivered when its seq is above the
    /// topic's last, dropped (counted) otherwise.
    void deliver_published(protocol::PublishedMessage m);
    /// Before start(): where publishes go to be sequenced for every gateway (null: this engine
    /// sequences them itself).
    void set_message_bus(feeds::MessageBus* bus) noexcept { bus_ = bus; }
    /// Before start(): where every delivered frame is also kept (--history), or null (off).
    void set_history(TopicHistory* history) noexcept { history_ = history; }
    /// Any thread.
    std::uint64_t published(PublishedResult r) const noexcept {
        return published_[static_cast<std::size_t>(r)].get();
    }
    std::size_t publish_topic_count() const noexcept { return room_count_.load(std::memory_order_relaxed); }

private:
    struct FeedState {
        std::string name;
        std::atomic<std::int64_t> last_update_ns{0};
        runtime::OwnedCounter updates;
        const feeds::UpstreamStats* upstream = nullptr;
        bool stale = false;  // worker 0 only
        // Worker 0 only: the upstream's drops seen so far, and since when an update is awaited
        // after one (0: none awaited).
        std::uint64_t disconnects_seen = 0;
        std::int64_t awaiting_since_ns = 0;
        // Set by worker 0 while the upstream keeps the feed stale, for feed_health on any thread.
        std::atomic<bool> upstream_stale{false};
        // The feed's seq space (protocol/epoch.hpp): random for a local feed at each start (a
        // restarted simulator starts its seqs over), the publisher's for NATS once it has said.
        std::uint64_t epoch = 0;  // worker 0 only
    };
    // What a topic name is to the engine: a topic feeds publish (tickers, trades, and book.<SYM>,
    // the symbol's source book, whose first view shares its name), or book50.<SYM>, a view only.
    // A room (chat.lobby) is a topic clients publish to, whose seq this gateway (or the bus) assigns.
    enum class TopicRole : std::uint8_t { published, book_source, book_view, room };
    struct TopicEntry {
        std::uint32_t id;
        std::uint16_t owner;
        TopicRole role = TopicRole::published;
        std::uint32_t book = 0;     // book_source: index into books_
        std::uint64_t last_seq = 0;  // room: the seq of its last message delivered
    };
    // A channel's share of --publish-rate: a token bucket of one second's worth.
    struct RateBucket {
        double tokens = 0;
        std::int64_t refilled_ns = 0;
    };
    struct BookSource;
    using Batches = std::vector<std::shared_ptr<UpdateBatch>>;
    struct Loop;  // worker 0's handles: the eventfd watch and the timers

    void wait_for_updates();
    void drain();
    void publish(const protocol::MarketUpdate* updates, std::size_t n);
    /// The topic entry of an update, created on first sight (a book: both views at once, announced
    /// to the workers); null when the update is to be dropped (counted).
    const TopicEntry* entry_for(const protocol::MarketUpdate& u, Batches& batches);
    void apply_book_fragment(BookSource& book, const protocol::MarketUpdate& u, Batches& batches);
    /// Queues the item on every worker's batch. A frame (a message, not a topic's announcement) gets
    /// the next offset and goes into the history; `prev_seq` is the seq of the topic's message
    /// before it (see TopicHistory::append).
    void hand_out(Batches& batches, std::uint32_t topic_id, std::uint64_t epoch, const protocol::MarketUpdate& u,
                  std::shared_ptr<Frame> frame, std::uint64_t prev_seq);
    /// Posts each worker its batch (moved from), stamped with the hand-out time.
    void post_batches(Batches& batches);
    std::uint64_t feed_epoch(std::uint8_t feed) const noexcept;
    /// A feed's seq space changed (an UpdateKind::epoch record in the ring).
    void on_epoch(std::uint8_t feed, std::uint64_t epoch);
    /// Rooms sequenced by the bus's publisher: its epoch changed (a message said so).
    void on_rooms_epoch(std::uint64_t epoch);
    /// The epoch of a topic's messages: its feed's, or for a room the rooms' epoch.
    std::uint64_t epoch_of(const TopicEntry& e) const noexcept;
    // Client publishing, worker 0 only.
    void on_submit(protocol::PublishedMessage m, std::function<void(PublishResult)> done);
    void on_sequenced(protocol::PublishedMessage m);
    bool take_rate_token(std::string_view channel, std::int64_t now_ns);
    /// The room's entry, created when there is room for it (null: past --max-publish-topics, or
    /// the name is a market topic's).
    TopicEntry* room_for(std::string_view topic, bool create);
    void deliver_room(const TopicEntry& room, const protocol::PublishedMessage& m);
    void count(PublishedResult r) noexcept { published_[static_cast<std::size_t>(r)].add(); }
    bool accepting() const noexcept;
    void check_freshness(std::int64_t now_ns);
    void schedule_freshness_check();
    bool workers_behind() const;

    const Config& config_;
    feeds::UpdateChannel& channel_;
    std::vector<Worker*> workers_;
    NewestSeqTable& newest_;
    std::vector<std::unique_ptr<FeedState>> feeds_;
    struct TopicHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    // Transparent lookup: finding a topic by the update's string_view allocates nothing.
    std::unordered_map<std::string, TopicEntry, TopicHash, std::equal_to<>> topics_;
    std::size_t topic_ids_ = 0;  // ids handed out (a book takes two)
    std::vector<std::unique_ptr<BookSource>> books_;
    std::int64_t started_ns_ = 0;
    runtime::OwnedCounter conflicts_;
    runtime::OwnedCounter topic_limit_drops_;
    runtime::OwnedCounter backpressure_waits_;
    std::atomic<std::size_t> topic_count_{0};
    feeds::MessageBus* bus_ = nullptr;
    TopicHistory* history_ = nullptr;
    // Every message's number, over all topics, from 1: the offset Socket.IO recovery resumes from.
    std::uint64_t next_offset_ = 1;  // worker 0 only
    // Rooms this engine sequences itself start their seqs over with each start (a random epoch);
    // over the bus they are the publisher's, taken from its messages (on_rooms_epoch).
    std::uint64_t rooms_epoch_ = 0;
    std::unordered_map<std::string, RateBucket> publish_rates_;  // by channel; worker 0 only
    std::atomic<std::size_t> room_count_{0};                     // rooms among topics_ (written on worker 0)
    std::array<runtime::OwnedCounter, static_cast<std::size_t>(PublishedResult::count_)> published_;
    bool stop_requested_ = false;
    std::unique_ptr<Loop> loop_;  // worker 0's thread only, once started
};

}  // namespace tickgate::gateway
