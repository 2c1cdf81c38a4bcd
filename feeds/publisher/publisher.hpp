#pragma once
// tickgate-feed: runs local feed adapters (simulator, replay) into an UpdateChannel, as the gateway
// does, and publishes every update to NATS as a bus record on <prefix>.<channel>.<symbol>. A lone
// simulator without a flush window runs on the publish thread itself instead (--feed-thread auto):
// one wake-up per event and no ring between, which halves the publisher's CPU at 10,000/s.
//
// The publisher, not the adapter, assigns seq, so every gateway downstream emits the same seq for
// the same update; ts is the adapter's (when the update was made), sent in the record, so every
// gateway emits the same ts too. Before the first update it makes sure the JetStream stream that keeps
// the last message per subject exists, and reads it to continue each topic's seq from there: a
// restarted publisher never reuses a seq for different content.
//
// It is also the one sequencer of client-published messages (issue 16): gateways ask it by NATS
// request/reply on <prefix>-publish (protocol/bus_publish.hpp); it checks a request, gives it its
// room's next seq, publishes it as a type-4 record on <prefix>.<channel>.<room> (so JetStream keeps
// the last one, and a restart continues the room's seq) and replies with the seq.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <string_view>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "feeds/publisher/publisher_config.hpp"
#include "feeds/runtime/counters.hpp"

namespace tickgate::feeds {
class FeedAdapter;
class NatsLink;
}  // namespace tickgate::feeds

namespace tickgate::protocol {
struct MarketUpdate;
}  // namespace tickgate::protocol

struct __natsConnection;
struct __natsMsg;
struct __natsSubscription;

namespace tickgate::publisher {

class Publisher {
public:
    explicit Publisher(PublisherConfig config);
    ~Publisher();

    /// Serves until SIGINT/SIGTERM and returns the exit code: 0, 1 when start-up fails (one line
    /// on stderr), 2 for a feed spec the factory refuses.
    int run();

    /// The Prometheus text exposition of the publisher's counters (any thread).
    std::string scrape();

private:
    struct BookState;
    struct TopicState {
        std::string subject;
        std::uint64_t seq = 0;
        std::uint64_t trade_id = 0;        // trades: the last trade_id published
        std::shared_ptr<BookState> book;   // books: the book as published, for keyframes
    };
    struct RoomState {
        std::string subject;     // <prefix>.<channel>.<room>
        std::uint64_t seq = 0;   // the room's last client message
    };
    struct TopicHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    bool start(std::string& error);
    /// Waits for NATS, ensures the stream and restores seqs. False on stop or a JetStream failure.
    bool attach(const std::stop_token& stop, std::string& error);
    /// Reconnect checks, publish requests and keyframes: what every pass of the publish thread does.
    void housekeeping();
    /// Drains the ring the feed threads fill, and publishes.
    void publish_loop(const std::stop_token& stop);
    /// The feed the publish thread drives itself (--feed-thread auto), or null.
    feeds::FeedAdapter* feed_on_publish_thread() const;
    /// Runs `feed`'s pacing on the publish thread and publishes what it produces: one wake-up per
    /// event, no ring between.
    void publish_paced_feed(const std::stop_token& stop, feeds::FeedAdapter& feed);
    TopicState& topic_state(std::string_view topic);
    /// Seq, ts, the per-topic message (buffered), and the record in the live batch if any.
    void publish_one(protocol::MarketUpdate& u);
    /// A trade: seq and trade_id are the publisher's.
    void publish_trade(TopicState& t, protocol::MarketUpdate& u);
    /// A book fragment: gathered until its change is complete, which then goes out as one record.
    void publish_book_fragment(TopicState& t, const protocol::MarketUpdate& u);
    /// Every book's full state on <prefix>.bookkf.<SYM> (JetStream keeps the last of each).
    void publish_keyframes();
    /// One v2 record as a message of its own on `subject`, and in a group of the live batch.
    void send_record(const std::string& subject, std::string_view record);
    /// One message to NATS, counted (published or failed, logged up to a bound).
    void publish_message(const std::string& subject, const char* data, std::size_t size);
    /// The live batch as one message (buffered), if it holds anything or for a keepalive.
    void publish_live_batch(bool keepalive = false);
    /// A stored message of the stream at start: where its topic's (or room's) seq continues, and
    /// (a v2 one) the epoch it was published in.
    void restore_from(std::string_view subject, std::string_view data, std::size_t& restored, std::uint64_t& epoch);
    /// Starts serving publish requests on <prefix>-publish (after the seqs are restored).
    bool serve_publish_requests(std::string& error);
    /// The library's thread of the request subscription: queues the request for the publish thread.
    static void on_publish_request(__natsConnection*, __natsSubscription*, __natsMsg* msg, void* self);
    /// The publish thread: answers every queued request.
    void answer_publish_requests();
    void answer_publish_request(__natsMsg* msg);
    void reply(__natsMsg* request, const std::string& text);

    PublisherConfig config_;
    int start_exit_code_ = 1;
    std::string stream_;
    // The seq space's name, sent in every v2 message: continued from the stream at start (the
    // seqs continue from it), chosen at random only when there is nothing to continue from.
    std::uint64_t epoch_;
    struct Parts;
    std::unique_ptr<Parts> parts_;
    std::unique_ptr<feeds::NatsLink> link_;
    std::atomic<bool> reattach_{false};  // set on reconnect: make sure the stream is still there
    // The check after a reconnect failed (JetStream slow or refusing): tried again from this time
    // on, publish thread only. Without it a missing stream stayed missing until the next reconnect.
    std::optional<std::chrono::steady_clock::time_point> stream_retry_at_;
    std::unordered_map<std::string, TopicState, TopicHash, std::equal_to<>> topics_;  // publish thread only
    std::unordered_map<std::string, RoomState, TopicHash, std::equal_to<>> rooms_;    // publish thread only
    std::string publish_subject_;      // <prefix>-publish
    __natsSubscription* publish_requests_ = nullptr;
    std::atomic<bool> requests_complete_{false};  // its last callback has returned (after the unsubscribe)
    // Requests taken by the library's thread, answered by the publish thread (which owns the seqs
    // and the connection's write batching).
    std::mutex requests_mutex_;
    std::vector<__natsMsg*> requests_;
    std::condition_variable_any requests_cv_;  // a request came (publish_paced_feed waits on it)
    std::vector<__natsMsg*> answering_;  // publish thread: the requests being answered
    // Written by the publish thread only, folded into the registry on scrape.
    std::string live_;                 // the live batch being filled (v2 header, then subject groups)
    std::size_t live_records_ = 0;
    std::chrono::steady_clock::time_point last_live_{};  // the last live batch published
    std::chrono::steady_clock::time_point last_keyframes_{};
    std::string message_;              // scratch: one v2 message
    std::string record_;               // scratch: one record
    bool skipped_v1_logged_ = false;
    runtime::OwnedCounter published_, nats_errors_, live_messages_, writes_, keyframes_;
    runtime::OwnedCounter client_messages_, publish_refused_;  // requests sequenced and published; refused
    runtime::OwnedGauge topic_count_, room_count_;
};

}  // namespace tickgate::publisher
