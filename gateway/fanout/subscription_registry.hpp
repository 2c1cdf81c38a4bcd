#pragma once
// One worker's view of topics and who subscribes to them. Thread-confined to the worker: the engine
// hands every worker the same ordered stream of updates, so each worker keeps its own copy of the
// topic table, latest values (for snapshots) and subscriber lists, and fan-out takes no lock.
//
// A session appears at most once in a topic's subscriber list however many of its entries cover
// the topic (an exact topic and a pattern), so it is delivered once; `coverage` counts the entries.
//
// Throttled entries (ticker.BTC-USD@1000ms, book.*@250ms) put a session in a topic's stream for
// that interval instead of its raw list, at the fastest rate among the session's entries covering
// the topic (raw beats any interval). A stream keeps the newest frame since its last tick (a book
// view: its deltas merged per level), and the worker's tick, aligned to multiples of the interval
// since the Unix epoch, hands that one frame to every subscriber of the stream: serialized once per
// (topic, interval) per worker, however many clients hold it.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/model/market_update.hpp"
#include "protocol/model/order_book.hpp"
#include "gateway/fanout/subscriber.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {

/// Rates a topic is delivered at: 0 raw, i (1..kThrottleCount) every kThrottleIntervalsMs[i - 1].
inline constexpr std::size_t kThrottleCount = std::size(protocol::kThrottleIntervalsMs);
/// The rate of an entry's interval (0: none).
std::uint8_t rate_of_interval(std::uint32_t interval_ms) noexcept;

/// One (topic, interval) on one worker: its subscribers, and what its next tick sends.
struct ThrottledStream {
    std::vector<Subscriber*> subscribers;  // they hold sent_seq
    // Subscribers since the last tick that hold another seq (a snapshot taken between ticks, or
    // what a faster rate gave them): the tick sends them the same value, or a book view's delta
    // chained from what each holds, and moves them to `subscribers`.
    std::vector<std::pair<Subscriber*, std::uint64_t>> joined;
    FramePtr newest;                  // the newest live frame since the last tick; null: nothing new
    std::uint64_t newest_seq = 0;
    std::uint64_t newest_offset = 0;
    std::shared_ptr<BookDelta> merged;  // a book view's deltas since the last tick, when more than one
    std::uint64_t sent_seq = 0;         // the seq of the stream's last message (a book delta's prev_seq)
    bool due = false;                   // listed for its interval's next tick
    bool empty() const noexcept { return subscribers.empty() && joined.empty(); }
};
using ThrottledStreams = std::array<ThrottledStream, kThrottleCount>;

struct TopicState {
    std::string name;
    protocol::UpdateKind kind = protocol::UpdateKind::ticker;
    protocol::MarketUpdate latest;  // a ticker's latest value (trades keep none: they have no snapshot)
    bool has_value = false;         // a snapshot can be sent (a book view: it has had its first delta)
    // A book view as this worker's subscribers hold it: every delta handed out applied in turn, so
    // a snapshot taken now chains with the next delta.
    std::unique_ptr<protocol::OrderBook> book;
    std::uint64_t book_seq = 0;
    std::int64_t book_ts_ns = 0;
    std::vector<Subscriber*> subscribers;  // at the raw rate
    std::unique_ptr<ThrottledStreams> throttled;  // made when a session first throttles the topic
    // How far this worker has handed the topic out: where a resume's replay from the history
    // (fanout/topic_history.hpp) ends and the worker's next batches take over.
    std::uint64_t last_seq = 0;
    std::uint64_t last_offset = 0;
    std::uint64_t epoch = 0;
    // The topic's epoch changed (its source's seqs start over): its next value goes to the
    // subscribers as a snapshot (a ticker's, or a book view's whole state), not as a live update.
    bool fresh_snapshot = false;
};

class SubscriptionRegistry {
public:
    struct SubscribeOutcome {
        std::vector<std::string> added;       // entries now held, in request order
        std::vector<std::string> already_held;  // valid entries the session held before (no-ops)
        std::vector<std::string> malformed;   // not a topic or pattern
        std::vector<std::string> unknown;     // exact topics no feed has published
        std::vector<std::string> over_limit;  // valid, but the session holds max_entries already
        std::vector<std::uint32_t> newly_covered;  // topics the session now receives that it did not before
        // Book views whose rate changed so that the session's next message would not chain from the
        // seq it holds: they need a snapshot (their current state) to go on from.
        std::vector<std::uint32_t> resync;
    };
    struct UnsubscribeOutcome {
        std::vector<std::string> removed;
        std::vector<std::string> malformed;
        std::vector<std::uint32_t> resync;
    };

    /// Topic ids arrive densely and in order from the engine; a new id creates the topic and
    /// subscribes the sessions whose patterns match it, and those holding it as a room that did not
    /// exist yet. A book view starts without a base (`first`
    /// gives its decimals): a subscriber gets no snapshot until its first delta, which its
    /// subscribers then receive as a snapshot instead (a book from the bus is served only once it
    /// has a keyframe; see feeds/bus_books.hpp).
    TopicState& ensure_topic(std::uint32_t id, std::string_view name,
                             protocol::UpdateKind kind = protocol::UpdateKind::ticker);
    TopicState& ensure_topic(std::uint32_t id, const protocol::MarketUpdate& first);

    /// Stores the update as the topic's latest value (a book view: applies the frame's delta to the
    /// view) and queues the shared frame on every subscriber (Socket.IO subscribers get a Socket.IO
    /// frame, built here on first need, once per update per worker). Subscribers that queued
    /// something become dirty.
    void deliver(std::uint32_t topic_id, const protocol::MarketUpdate& update, const FramePtr& frame,
                 std::int64_t now_ns, std::uint64_t offset = 0);
    /// Socket.IO connection state recovery: live Socket.IO events carry the message's offset as
    /// their last argument (the client recovers from the last one it received).
    void set_socketio_offsets(bool on) noexcept { socketio_offsets_ = on; }
    /// A ticker this worker skips (it is behind): its latest value, and the throttled streams' newest.
    void skip(std::uint32_t topic_id, const protocol::MarketUpdate& update, const FramePtr& frame,
              std::uint64_t offset);

    /// The tick of throttle rate `rate` (1..kThrottleCount): every stream of that interval with
    /// something new since its last tick queues it on its subscribers (dirty, as deliver()).
    /// Returns the messages queued.
    std::size_t deliver_throttled(std::uint8_t rate, std::int64_t now_ns);
    /// How many (session, topic) pairs are throttled at `rate` on this worker: the worker ticks
    /// an interval only while some are.
    std::size_t throttled_subscriptions(std::uint8_t rate) const noexcept { return throttled_count_[rate - 1]; }
    /// Streams (topic, interval) with a subscriber on this worker.
    std::size_t throttled_streams() const noexcept { return stream_count_; }
    /// Frames the ticks serialized so far (merged book deltas, Socket.IO framings): once per stream
    /// and tick however many subscribe, plus one per joiner whose book needs its own chain link.
    std::uint64_t throttled_encodes() const noexcept { return throttled_encodes_; }
    /// Called when an interval's first throttled subscription appears (the worker arms its tick).
    void on_throttled(std::function<void()> f) { on_throttled_ = std::move(f); }
    /// Calls f(Subscriber&) for every session covering the topic, at any rate.
    template <typename F>
    void for_each_subscriber(std::uint32_t topic_id, F&& f) const;
    /// Records how far the topic has been handed out on this worker (every message, delivered or
    /// skipped by a lagging worker) and its epoch.
    void note_position(std::uint32_t topic_id, std::uint64_t seq, std::uint64_t offset, std::uint64_t epoch) {
        TopicState& t = topics_[topic_id];
        if (t.epoch != 0 && t.epoch != epoch) t.fresh_snapshot = true;
        t.epoch = epoch;
        if (offset == 0) return;  // an announcement
        t.last_seq = seq;
        t.last_offset = offset;
    }
    /// The worker's flush pass: calls `f(subscriber)` once for each dirty subscriber and clears the
    /// list. `f` may close subscribers (which then leave the registry).
    template <typename F>
    void flush_dirty(F&& f);

    /// Records the update as the topic's latest value without delivering it.
    void store_latest(std::uint32_t topic_id, const protocol::MarketUpdate& update) {
        if (update.kind != protocol::UpdateKind::ticker) return;
        topics_[topic_id].latest = update;
        topics_[topic_id].has_value = true;
    }

    /// Exact topics must exist, except rooms (chat.lobby) on `publish_channels`: a room is known
    /// before its first message, and held until it appears (its first message is delivered). A
    /// room on any other channel is malformed.
    SubscribeOutcome subscribe(Subscriber& s, std::span<const std::string> entries, std::size_t max_entries,
                               std::span<const std::string> publish_channels = {});
    UnsubscribeOutcome unsubscribe(Subscriber& s, std::span<const std::string> entries);
    /// Drops every entry of a closing session. It stays in the dirty list until the flush pass.
    void remove(Subscriber& s);
    /// remove(), and out of the dirty list too: for a session about to be freed.
    void release(Subscriber& s);
    /// Hands every entry of `from` to `to` (which holds none) in place: `to` takes `from`'s slots
    /// in the topics' subscriber lists, so it receives exactly what `from` would have received
    /// next. For a polling session that upgrades to WebSocket.
    void transfer(Subscriber& from, Subscriber& to);

    std::optional<std::uint32_t> find(std::string_view topic) const;
    const TopicState& topic(std::uint32_t id) const { return topics_[id]; }
    std::size_t topic_count() const noexcept { return topics_.size(); }
    std::vector<std::string_view> topic_names() const;

private:
    /// A book view's first change (or its first after an epoch change), or a ticker's first value
    /// after an epoch change: queues a snapshot-like message (`build(wire, out)`) on every subscriber at any
    /// rate, and starts the topic's streams over from it.
    template <typename Build>
    void deliver_snapshot_to_all(TopicState& topic, std::uint32_t topic_id, std::int64_t now_ns, Build&& build);
    /// Keeps the newest frame (a book view: merges its delta) in each throttled stream of the topic.
    void stage_throttled(TopicState& topic, std::uint32_t topic_id, const FramePtr& frame, std::uint64_t seq,
                         std::uint64_t offset);
    void cover(Subscriber& s, std::uint32_t topic_id, std::uint8_t rate, std::vector<std::uint32_t>* newly_covered,
               std::vector<std::uint32_t>* resync);
    void uncover(Subscriber& s, std::uint32_t topic_id, std::uint8_t rate, std::vector<std::uint32_t>* resync);
    /// Puts `s` in the list of `c.rate`, holding `held`; true when it then needs a snapshot.
    bool place(Subscriber& s, std::uint32_t topic_id, Subscriber::Coverage& c, std::uint64_t held);
    /// Takes `s` out of its list; returns the seq it holds.
    std::uint64_t unplace(Subscriber& s, std::uint32_t topic_id, Subscriber::Coverage& c);
    /// Whether an entry at `rate` covers the topic: a throttled pattern only covers tickers and books.
    static bool throttleable(const TopicState& t) noexcept {
        return t.kind == protocol::UpdateKind::ticker || t.kind == protocol::UpdateKind::book;
    }
    /// The seq a subscriber of the topic's raw list holds once its queue is sent.
    static std::uint64_t current_seq(const TopicState& t) noexcept { return t.book ? t.book_seq : t.latest.seq; }
    void drop_entry(Subscriber& s, const std::string& entry, std::vector<std::uint32_t>* resync);
    void mark_dirty(Subscriber& s) {
        if (!s.membership_.dirty) {
            s.membership_.dirty = true;
            dirty_.push_back(&s);
        }
    }

    std::vector<TopicState> topics_;
    bool socketio_offsets_ = false;
    std::array<std::vector<std::uint32_t>, kThrottleCount> due_;  // topics with news, per interval
    std::array<std::size_t, kThrottleCount> throttled_count_{};
    std::size_t stream_count_ = 0;
    std::uint64_t throttled_encodes_ = 0;
    std::function<void()> on_throttled_;
    std::vector<Subscriber*> dirty_;
    std::vector<Subscriber*> flushing_;  // dirty_ of the pass in progress (kept for its capacity)
    struct NameHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::uint32_t, NameHash, std::equal_to<>> ids_;
    // Distinct patterns and who holds them: a new topic is matched once per distinct pattern.
    std::unordered_map<std::string, std::unordered_set<Subscriber*>> patterns_;
    // Rooms subscribed to before they exist, and who holds them: covered when the room appears.
    std::unordered_map<std::string, std::unordered_set<Subscriber*>> pending_rooms_;
};

template <typename F>
void SubscriptionRegistry::flush_dirty(F&& f) {
    // A subscriber closed by `f` leaves dirty_, not the list being walked: swap first.
    flushing_.swap(dirty_);
    for (Subscriber* s : flushing_) {
        if (!s->membership_.dirty) continue;  // removed meanwhile
        s->membership_.dirty = false;
        f(*s);
    }
    flushing_.clear();
}

template <typename F>
void SubscriptionRegistry::for_each_subscriber(std::uint32_t topic_id, F&& f) const {
    const TopicState& t = topics_[topic_id];
    for (Subscriber* s : t.subscribers) f(*s);
    if (!t.throttled) return;
    for (const ThrottledStream& st : *t.throttled) {
        for (Subscriber* s : st.subscribers) f(*s);
        for (const auto& [s, held] : st.joined) f(*s);
    }
}

}  // namespace tickgate::gateway
