#pragma once
// The protocol side of one WebSocket connection, independent of the transport (TLS or plain):
// requests, acks, snapshots, errors, rate limiting, heartbeats, the slow-consumer rule and the
// closing handshake's bookkeeping. The transport (websocket_session.cpp) moves the bytes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/subscription_registry.hpp"
#include "protocol/errors.hpp"
#include "protocol/request.hpp"

namespace tickgate::gateway {

class Worker;

/// The wire protocol of a session: v1 JSON frames, or Socket.IO v5 over Engine.IO v4 (WebSocket).
enum class Wire { v1, socketio };

class SessionBase : public Subscriber, public std::enable_shared_from_this<SessionBase> {
public:
    SessionBase(Worker& worker, std::string peer, Wire wire = Wire::v1);
    ~SessionBase() override;

    const std::string& id() const noexcept { return id_; }
    const std::string& peer() const noexcept { return peer_; }
    bool is_open() const noexcept { return state_ == State::open; }
    Wire wire() const noexcept { return wire_; }
    /// A WebSocket probing an upgrade of a polling session: it carries nothing but the probe until
    /// the client's upgrade packet makes it the session (take_over).
    bool is_probe() const noexcept { return probing_; }

    /// Starts a write of everything queued, unless one is in flight. Worker thread only.
    virtual void flush() = 0;
    /// Starts the closing handshake: no more deliveries, the close frame after what is queued
    /// (or instead of it when discard_backlog), then the socket closes.
    void close(std::uint16_t code, std::string_view reason, bool discard_backlog);
    /// Periodic checks: heartbeat pings and timeouts, backlog age.
    void on_sweep(std::int64_t now_ns);

protected:
    enum class State { open, closing, closed };

    /// v1: welcome, current stale feed states, and the ?subscribe= list of the upgrade request.
    /// Socket.IO: the Engine.IO open packet; or, when `subscribe_list` is not empty, it is the sid
    /// of the polling session this WebSocket upgrades, and the session starts as a probe.
    void on_open(std::string_view subscribe_list);
    void on_text(std::string_view text);
    void on_binary();
    /// Socket.IO sessions: one Engine.IO packet (a WebSocket text frame).
    void on_engineio_packet(std::string_view packet);
    void on_peer_close(std::uint16_t code);
    /// Counts a malformed Engine.IO/Socket.IO packet and closes 1002.
    void protocol_violation(std::string_view what);
    /// Polling sessions: the probe WebSocket answered "3probe" (the pending GET must end with a noop);
    /// the probe ended without upgrading; the WebSocket took the session over (the polling transport
    /// ends without a close packet).
    virtual void on_probe_started() {}
    virtual void on_probe_ended();
    virtual void on_taken_over() {}
    void note_activity() noexcept { last_activity_ns_ = now(); }
    /// Called by the transport when it has written bytes (writing = false) or started (true).
    void note_write_started(std::int64_t queued_since_ns) noexcept {
        write_in_flight_ = true;
        inflight_queued_since_ns_ = queued_since_ns;
    }
    void note_write_done() noexcept { write_in_flight_ = false; }
    /// The transport closes the socket when this becomes true after a write.
    bool close_handshake_done() const noexcept { return state_ == State::closing && queue.empty() && peer_closed_; }
    bool close_frame_sent() const noexcept { return state_ == State::closing && queue.empty() && !write_in_flight_; }
    /// The transport's hook to close the socket (now, or after a grace period it owns).
    virtual void on_closing() = 0;
    void mark_closed() noexcept { state_ = State::closed; }
    std::int64_t now() const;

    Worker& worker_;
    State state_ = State::open;
    bool peer_closed_ = false;
    bool offer_upgrade_ = false;  // the open packet lists "websocket" in upgrades (polling sessions)
    std::uint16_t close_code_ = 0;
    std::string close_reason_;

private:
    void handle(const protocol::Request& request);
    void on_socketio_packet(std::string_view data);
    void send_welcome();
    /// A reply that is not an ack: the v1 object as a frame, or for Socket.IO an event named
    /// `event` (or "message" for requests that came through send()).
    void send_reply(std::string_view event, std::string_view v1_json);
    /// Socket.IO only: the request carried an ack id and this answers it (once).
    bool wants_ack() const noexcept { return wire_ == Wire::socketio && ack_id_ && !message_mode_; }
    void send_ack(std::string_view json);
    /// The ack of a subscribe/unsubscribe: {"topics":[..]} from the v1 ack object, plus "error"
    /// when one was recorded for this request; {"error":..} alone when nothing was accepted.
    std::string ack_body(std::string_view topics_ack_json, bool accepted);
    bool push_payload(std::string_view payload);
    void queue_snapshot(const protocol::TickerUpdate& update);
    void begin_probe(std::string_view polling_sid);
    void abandon_probe();
    /// "5" on the probe: this WebSocket session becomes `from` (sid, subscriptions in place in the
    /// registry, queued messages, rate state); `from` ends.
    void take_over(SessionBase& from);
    void subscribe(const std::string& id_json, const std::vector<std::string>& entries);
    void unsubscribe(const std::string& id_json, const std::vector<std::string>& entries);
    void send_error(std::string_view id_json, protocol::ErrorCode code, std::string_view message,
                    const std::vector<std::string>& topics = {});
    bool take_rate_token(std::int64_t now_ns);
    void update_subscription_gauge();

    std::string id_;
    std::string peer_;
    const Wire wire_;
    bool socketio_connected_ = false;
    bool probing_ = false;          // this WebSocket is a probe
    bool upgrade_claimed_ = false;  // this polling session has a probe
    std::weak_ptr<SessionBase> upgrading_from_;  // the polling session a probe upgrades
    std::optional<std::uint64_t> ack_id_;  // of the Socket.IO event being handled
    bool message_mode_ = false;            // the event being handled came through send()
    std::string ack_error_json_;           // first error of the request being handled, for its ack
    std::int64_t last_activity_ns_ = 0;
    std::int64_t last_ping_ns_ = 0;
    bool write_in_flight_ = false;
    std::int64_t inflight_queued_since_ns_ = 0;
    double rate_tokens_ = 0;
    std::int64_t rate_refilled_ns_ = 0;
    std::uint32_t rate_strikes_ = 0;
    std::size_t counted_subscriptions_ = 0;
};

}  // namespace tickgate::gateway
