#pragma once
// The gateway as a NATS subscriber (--feed nats://HOST:PORT[,HOST:PORT...]): bus records published
// by tickgate-feed on `subjects` (default md.>) become MarketUpdates in the ring, with the
// publisher's seq and ts, like any local feed's.
//
// Latest values: on connect and on every reconnect the feed reads the last message per subject
// from the JetStream stream the publisher keeps, so snapshots are right at once; live updates come
// from a core NATS subscription made before that read (lower latency than a JetStream consumer).
// The two overlap, so an update is forwarded only when its seq is above the topic's last forwarded
// one: clients see gaps across an outage, never a duplicate or an update going backwards. With the
// gateway's --history on, the read takes the last --history messages per subject instead (what
// the stream holds of them, the publisher's --history), trades and client messages too, so the
// gateway's history covers what happened before it listened, and a reconnect fills the outage.
//
// Epochs (protocol/README.md, "Epochs"): a v2 message carries its publisher's epoch, which changes
// only when the publisher's seqs start over (it found no stream to continue from). The first
// epoch seen, and every change, go into the ring as an UpdateKind::epoch record ahead of any
// update of the new epoch; a change also resets the seq checks (topics, books, rooms), so the new
// seqs flow instead of being dropped as duplicates, and retires the old epoch: a late message of
// it is dropped. What the store holds is one seq space, the epoch of its newest message.
//
// It is also the gateway's MessageBus (issue 16; protocol/README.md, "Client messages on the bus"):
// - client messages (type-4 records on <prefix>.<channel>.<room>) go to the message sink, never to
//   the ring, each room's in seq order, once; those read from JetStream at (re)connect happened
//   before this gateway listened and are not delivered;
// - forward_publish asks the publisher on <prefix>-publish from the feed's loop, replies coming to
//   an inbox of the feed's own and handed to that loop (never a blocking request there);
// - announcements go to every other gateway on <prefix>-announce with this feed's origin id,
//   and come from them to the announcement sink (the feed's own are recognised and dropped).
// <prefix> is the publisher's subject prefix, read from --nats-subjects (resolve_bus_prefix).

#include <atomic>
#include <chrono>
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
struct __natsConnection;
struct __natsMsg;

namespace tickgate::feeds {

class NatsFeed final : public FeedAdapter, public MessageBus {
public:
    /// How long forward_publish waits for the publisher's reply before `done` gets an error.
    static constexpr auto kPublishTimeout = std::chrono::seconds(2);

    /// servers: what follows "nats://" in the spec. Returns null and sets `error` when malformed.
    /// The batched live subject a feed with these options watches ("" for none): see
    /// NatsOptions::live_subject.
    static std::string resolve_live_subject(std::string_view subjects, std::string_view live_subject);
    /// The publisher's subject prefix in `subjects` ("md.>" -> "md", "md.ticker.*" -> "md"): the
    /// tokens before a final ">", or before the last two (channel, symbol), none of them a
    /// wildcard. Empty when there is none (">", "*.ticker.BTC-USD"): no publishing, no announcements.
    static std::string resolve_bus_prefix(std::string_view subjects);
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
    MessageBus* message_bus() noexcept override { return this; }

    // MessageBus. The sinks and `done` run on the feed's loop thread (worker 0's when hosted);
    // `done` runs at once on the calling thread only when the feed is not running (before run()
    // has connected, or after it returned). forward_publish fails with an error after
    // kPublishTimeout without a reply, at once while NATS is down or when no publisher serves
    // <prefix>-publish; an error after a timeout or a disconnect does not prove that the message
    // was not published (its reply may be what was lost).
    void set_message_sink(MessageSink sink) override { message_sink_ = std::move(sink); }
    void set_announcement_sink(AnnouncementSink sink) override { announcement_sink_ = std::move(sink); }
    void forward_publish(protocol::PublishedMessage message, std::function<void(PublishOutcome)> done) override;
    void forward_announcement(const protocol::Announcement& announcement) override;
    /// This feed's origin id in the announcements it sends (random, never 0).
    std::uint64_t origin() const noexcept { return origin_; }

private:
    NatsFeed(std::vector<std::string> urls, const NatsOptions& options, std::uint16_t feed_index);
    struct Live;
    /// One bus message: decode, check the topic bound and seq order, publish. live: from the core
    /// subscription (its latency is observed); otherwise loaded from JetStream. The loop thread
    /// only, so the ring sees one producer and a topic's updates stay in order.
    /// Whether it was a valid v2 message (what switches the feed to a batched subject).
    bool ingest(std::string_view subject, std::string_view data, bool live, UpdateChannel& out,
                const std::stop_token& stop);
    /// A v2 message of `epoch` (its own, or the store's for one read from it) is about to be used:
    /// a new epoch goes into the ring and resets the seq checks. False for a retired epoch: the
    /// message is dropped. Loop thread.
    bool enter_epoch(std::uint64_t epoch, UpdateChannel& out, const std::stop_token& stop);
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
    /// The client message records of a bus message ingest() accepted: live ones to the sink.
    void ingest_client_messages(std::string_view subject, const protocol::BusMessage& m, bool live);
    // The loop thread: publish requests in flight, their replies and timeouts, and announcements.
    void start_publish(std::string request, std::function<void(PublishOutcome)> done);
    void finish_publish(std::uint64_t id, PublishOutcome outcome);
    void fail_pending_publishes(const std::string& why);
    /// The library's thread: a reply (or nats-server's "no responders"), handed to the loop.
    static void on_reply(__natsConnection*, __natsSubscription*, __natsMsg* msg, void* self);
    bool drain_announcements(__natsSubscription* sub);

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
    // The epochs left behind, newest last (loop thread only): a message of one is a dead seq space's.
    std::vector<std::uint64_t> retired_epochs_;
    // During a reload: the epoch of the newest v2 message read from the store (0: none), which
    // every stored message is taken to have (the store is one seq space; see enter_epoch).
    std::uint64_t reload_epoch_ = 0;
    std::string live_subject_;  // the publisher's batched live subject, "" when not watched
    boost::asio::io_context* host_ = nullptr;  // the loop offered and taken (--nats-reader worker)

    // The MessageBus side.
    std::string bus_prefix_;        // resolve_bus_prefix(subjects); "" when none
    std::string publish_subject_;   // <prefix>-publish
    std::string announce_subject_;  // <prefix>-announce
    std::uint64_t origin_;
    MessageSink message_sink_;
    AnnouncementSink announcement_sink_;
    // What other threads may reach while run() is connected: the loop to post to and the
    // connection to publish on. Set once the subscriptions are made, cleared before they go.
    std::mutex bus_mutex_;
    boost::asio::io_context* bus_io_ = nullptr;
    __natsConnection* bus_nc_ = nullptr;
    // The loop thread only: requests waiting for a reply on <inbox_>.<id>, and each room's last seq
    // delivered (bounded by options_.max_topics).
    struct PendingPublish;
    std::unordered_map<std::uint64_t, std::unique_ptr<PendingPublish>> pending_;
    boost::asio::io_context* loop_io_ = nullptr;  // the loop thread's own io_context, for the timeouts
    std::uint64_t next_request_ = 0;
    std::string inbox_;
    std::atomic<bool> replies_complete_{false};  // the reply subscription's last callback has returned
    std::unordered_map<std::string, std::uint64_t, TopicHash, std::equal_to<>> message_seq_;
};

}  // namespace tickgate::feeds
