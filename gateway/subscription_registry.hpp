#pragma once
// One worker's view of topics and who subscribes to them. Thread-confined to the worker: the engine
// hands every worker the same ordered stream of updates, so each worker keeps its own copy of the
// topic table, latest values (for snapshots) and subscriber lists, and fan-out takes no lock.
//
// A session appears at most once in a topic's subscriber list however many of its entries cover
// the topic (an exact topic and a pattern), so it is delivered once; `coverage` counts the entries.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/model/ticker_update.hpp"
#include "gateway/outbound_queue.hpp"

namespace tickgate::gateway {

/// What the registry knows of a session.
struct Subscriber {
    explicit Subscriber(std::size_t max_queue_bytes) : queue(max_queue_bytes) {}
    virtual ~Subscriber() = default;

    struct Coverage {
        std::uint32_t entries = 0;  // how many held entries cover the topic
        std::uint32_t index = 0;    // position in the topic's subscriber list
    };

    OutboundQueue queue;
    std::vector<std::string> entries;                       // exact topics and patterns held
    std::unordered_map<std::uint32_t, Coverage> coverage;  // topic id -> coverage
    bool socketio = false;    // receives Socket.IO event frames instead of v1 frames
    bool dirty = false;       // queued something since the worker's last flush pass
    bool overflowed = false;  // the queue passed its bound: to be closed as a slow consumer
};

struct TopicState {
    std::string name;
    protocol::TickerUpdate latest;
    bool has_value = false;
    std::vector<Subscriber*> subscribers;
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
    };
    struct UnsubscribeOutcome {
        std::vector<std::string> removed;
        std::vector<std::string> malformed;
    };

    /// Topic ids arrive densely and in order from the engine; a new id creates the topic and
    /// subscribes the sessions whose patterns match it.
    TopicState& ensure_topic(std::uint32_t id, std::string_view name);

    /// Stores the update as the topic's latest value and queues the shared frame on every
    /// subscriber (Socket.IO subscribers get `socketio_frame`, encoded here on first need, once per
    /// update per worker). Subscribers that become dirty are appended to `dirty`.
    void deliver(std::uint32_t topic_id, const protocol::TickerUpdate& update, const FramePtr& frame,
                 std::int64_t now_ns, std::vector<Subscriber*>& dirty);

    /// Records the update as the topic's latest value without delivering it.
    void store_latest(std::uint32_t topic_id, const protocol::TickerUpdate& update) {
        topics_[topic_id].latest = update;
        topics_[topic_id].has_value = true;
    }

    SubscribeOutcome subscribe(Subscriber& s, std::span<const std::string> entries, std::size_t max_entries);
    UnsubscribeOutcome unsubscribe(Subscriber& s, std::span<const std::string> entries);
    /// Drops every entry of a closing session.
    void remove(Subscriber& s);
    /// Hands every entry of `from` to `to` (which holds none) in place: `to` takes `from`'s slots
    /// in the topics' subscriber lists, so it receives exactly what `from` would have received
    /// next. For a polling session that upgrades to WebSocket.
    void transfer(Subscriber& from, Subscriber& to);

    std::optional<std::uint32_t> find(std::string_view topic) const;
    const TopicState& topic(std::uint32_t id) const { return topics_[id]; }
    std::size_t topic_count() const noexcept { return topics_.size(); }
    std::vector<std::string_view> topic_names() const;

private:
    void cover(Subscriber& s, std::uint32_t topic_id, std::vector<std::uint32_t>* newly_covered);
    void uncover(Subscriber& s, std::uint32_t topic_id);
    void drop_entry(Subscriber& s, const std::string& entry);

    std::vector<TopicState> topics_;
    struct NameHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::uint32_t, NameHash, std::equal_to<>> ids_;
    // Distinct patterns and who holds them: a new topic is matched once per distinct pattern.
    std::unordered_map<std::string, std::unordered_set<Subscriber*>> patterns_;
};

}  // namespace tickgate::gateway
