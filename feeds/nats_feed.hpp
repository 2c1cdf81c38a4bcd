#pragma once
// The gateway as a NATS subscriber (--feed nats://HOST:PORT[,HOST:PORT...]): bus records published
// by tickgate-feed on `subjects` (default md.>) become MarketUpdates in the ring, with the
// publisher's seq and ts, like any local feed's.
//
// Latest values: on connect and on every reconnect the feed reads the last message per subject
// from the JetStream stream the publisher keeps, so snapshots are right at once; live updates come
// from a core NATS subscription made before that read (lower latency than a JetStream consumer).
// The two overlap, so an update is forwarded only when its seq is above the topic's last forwarded
// one: clients see gaps across an outage, never a duplicate or an update going backwards.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "feeds/bus_books.hpp"
#include "feeds/feed_adapter.hpp"
#include "feeds/upstream_stats.hpp"

namespace tickgate::feeds {

class NatsLink;
}  // namespace tickgate::feeds

struct __natsSubscription;

namespace tickgate::feeds {

class NatsFeed final : public FeedAdapter {
public:
    /// servers: what follows "nats://" in the spec. Returns null and sets `error` when malformed.
    /// The batched live subject a feed with these options watches ("" for none): see
    /// NatsOptions::live_subject.
    static std::string resolve_live_subject(std::string_view subjects, std::string_view live_subject);
    static std::unique_ptr<NatsFeed> create(std::string_view servers, const NatsOptions& options,
                                            std::uint16_t feed_index, std::string& error);
    ~NatsFeed() override;

    const std::string& name() const override { return name_; }
    /// Connects (retrying in the background while NATS is down), then forwards until stop. The
    /// connection runs on an io_context of the feed's own, on a second thread.
    void run(std::stop_token stop, UpdateChannel& out) override;
    const UpstreamStats* upstream_stats() const noexcept override { return &stats_; }
    /// Taken when --nats-reader is worker: the feed then reads on that loop.
    void offer_event_loop(boost::asio::io_context& io) override;

private:
    NatsFeed(std::vector<std::string> urls, const NatsOptions& options, std::uint16_t feed_index);
    struct Live;
    /// One bus message: decode, check the topic bound and seq order, publish. live: from the core
    /// subscription (its latency is observed); otherwise loaded from JetStream. The loop thread
    /// only, so the ring sees one producer and a topic's updates stay in order.
    /// Whether it was a valid v2 message (what switches the feed to a batched subject).
    bool ingest(std::string_view subject, std::string_view data, bool live, UpdateChannel& out,
                const std::stop_token& stop);
    /// A book record: through the assembler, which forwards it only onto a book with a base.
    void ingest_book(std::string_view topic, std::string_view channel, std::string_view body, bool live,
                     std::int64_t now, UpdateChannel& out, const std::stop_token& stop);
    /// The loop thread: takes what the live subscriptions hold, unless a reload has paused them.
    /// Whether they held anything.
    bool drain_live(Live& live, UpdateChannel& out, const std::stop_token& stop);
    bool drain_subscription(Live& live, __natsSubscription* sub, bool batches, UpdateChannel& out,
                            const std::stop_token& stop);
    void switch_to_batches(Live& live);
    /// Hosted and the lane too full for another message: drains again shortly.
    void retry_when_drained(Live& live, UpdateChannel& out, const std::stop_token& stop);
    void watch_batch_silence(Live& live);
    __natsSubscription* subscribe(const std::string& subject);
    /// The run() thread (the loop keeps reading meanwhile): the store's latest values.
    void load_latest(std::vector<std::pair<std::string, std::string>>& latest);

    struct TopicHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    std::string name_;
    std::vector<std::string> urls_;
    NatsOptions options_;
    std::uint16_t feed_index_;
    UpstreamStats stats_;
    std::unique_ptr<NatsLink> link_;
    // Set on (re)connect by the library's callback thread, taken by run().
    std::mutex reload_mutex_;
    std::condition_variable_any reload_cv_;
    bool reload_ = false;
    // Last forwarded seq per topic, bounded by options_.max_topics (loop thread only).
    std::unordered_map<std::string, std::uint64_t, TopicHash, std::equal_to<>> last_seq_;
    BusBookAssembler books_;                      // loop thread only
    std::vector<protocol::MarketUpdate> fragments_;  // what one book record puts in the ring
    std::uint64_t epoch_ = 0;  // the last v2 publisher epoch seen (loop thread only)
    std::string live_subject_;  // the publisher's batched live subject, "" when not watched
    boost::asio::io_context* host_ = nullptr;  // the loop offered and taken (--nats-reader worker)
};

}  // namespace tickgate::feeds
