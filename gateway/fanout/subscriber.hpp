#pragma once
// What a worker and its subscription registry know of a session: its wire protocol, its send queue,
// its hooks (the worker's four, and the operator API's three). Sessions (gateway/session/) implement
// it; fan-out code never sees a transport.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/fanout/outbound_queue.hpp"

namespace tickgate::gateway {

/// The frames of one feed status change, one per wire protocol.
struct StatusFrames {
    FramePtr v1, socketio;
    const FramePtr& for_wire(Wire wire) const noexcept { return wire == Wire::socketio ? socketio : v1; }
};

/// What the operator API (gateway/admin/) shows of a session.
struct SessionInfo {
    std::string id;
    std::optional<std::string> user;  // the token's sub; none for a session without one
    std::string peer;                 // the client's address:port
    Wire wire = Wire::v1;
    bool polling = false;             // Socket.IO long-polling, else a WebSocket
    std::size_t subscriptions = 0;    // entries held (a pattern counts as one)
    std::int64_t connected_since_ns = 0;  // wall clock, ns since the Unix epoch
};

class Subscriber {
public:
    explicit Subscriber(std::size_t max_queue_bytes, Wire wire = Wire::v1) : queue_(max_queue_bytes, wire), wire_(wire) {}
    virtual ~Subscriber() = default;
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    Wire wire() const noexcept { return wire_; }
    OutboundQueue& queue() noexcept { return queue_; }
    const OutboundQueue& queue() const noexcept { return queue_; }

    /// The worker's flush pass, once per pass after updates were queued: send them, or close as a
    /// slow consumer when the queue overflowed.
    virtual void on_delivered() {}
    /// A feed status change, for every open session.
    virtual void on_status(const StatusFrames&) {}
    /// The server is shutting down: close with 1001 "going away".
    virtual void on_drain() {}
    /// The worker's periodic check (heartbeats, backlog age).
    virtual void on_sweep(std::int64_t /*now_ns*/) {}
    /// The worker did not run for `ns` (its liveness sweep came that late): not the client's silence.
    virtual void on_worker_paused(std::int64_t /*ns*/) {}

    // The operator API's calls (gateway/admin/), on the worker's thread.
    /// An announcement: queue this wire's frame and send it. False when it was not queued (not a
    /// client's session, or closing; or its queue had no room: it then closes as a slow consumer).
    virtual bool on_announcement(const StatusFrames& /*frames*/) { return false; }
    /// Fills `out`; false for a session the operator does not see (an upgrade probe, a closing one).
    virtual bool describe(SessionInfo& /*out*/) const { return false; }
    /// Closes the session with `code` (4000-4999) and `reason`, after what is queued.
    virtual void on_operator_close(std::uint16_t /*code*/, std::string_view /*reason*/) {}

    /// How many held entries cover a topic at each rate, and where the subscriber sits: in the
    /// topic's list of the fastest rate it holds (0 raw; i, kThrottleIntervalsMs[i - 1]), or in that
    /// throttled stream's list of those joined since its last tick.
    struct Coverage {
        // By rate. At most 4 entries cover a topic at one rate (the topic, channel.*, *.SYMBOL, *.*).
        std::array<std::uint8_t, 6> entries{};
        std::uint8_t rate = 0;
        bool joined = false;
        std::uint32_t index = 0;
        std::uint32_t total() const noexcept {
            std::uint32_t n = 0;
            for (auto e : entries) n += e;
            return n;
        }
    };
    /// The registry's bookkeeping of this subscriber. Only SubscriptionRegistry writes it.
    struct Membership {
        std::vector<std::string> entries;                       // exact topics and patterns held
        std::unordered_map<std::uint32_t, Coverage> coverage;  // topic id -> coverage
        bool dirty = false;  // queued something since the worker's last flush pass
    };
    const Membership& membership() const noexcept { return membership_; }

private:
    friend class SubscriptionRegistry;
    Membership membership_;
    OutboundQueue queue_;
    Wire wire_;
};

}  // namespace tickgate::gateway
