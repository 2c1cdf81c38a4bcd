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

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "feeds/update_channel.hpp"
#include "feeds/upstream_stats.hpp"
#include "gateway/config.hpp"
#include "gateway/fanout/frame.hpp"
#include "gateway/stats.hpp"

namespace tickgate::gateway {

class Worker;
class NewestSeqTable;
struct UpdateBatch;

struct FeedHealth {
    std::string name;
    bool fresh = false;
    std::int64_t age_ms = 0;  // since its last update (or since start, before the first)
    std::uint64_t updates = 0;
};

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
    };
    // What a topic name is to the engine: a topic feeds publish (tickers, trades, and book.<SYM>,
    // the symbol's source book, whose first view shares its name), or book50.<SYM>, a view only.
    enum class TopicRole : std::uint8_t { published, book_source, book_view };
    struct TopicEntry {
        std::uint32_t id;
        std::uint16_t owner;
        TopicRole role = TopicRole::published;
        std::uint32_t book = 0;  // book_source: index into books_
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
    static void hand_out(Batches& batches, std::uint32_t topic_id, const protocol::MarketUpdate& u,
                         std::shared_ptr<Frame> frame);
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
    bool stop_requested_ = false;
    std::unique_ptr<Loop> loop_;  // worker 0's thread only, once started
};

}  // namespace tickgate::gateway
