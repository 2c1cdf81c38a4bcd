#pragma once
// One client connection's protocol state, whatever carries it: its id, its send queue, its
// subscriptions' gauge, the rate limit and liveness policy, and the closing handshake. What the
// client's bytes mean is the dialect's (v1_dialect, socketio_dialect); moving bytes is the
// transport's (websocket_session.cpp, polling_session.cpp), which derives from Session.
//
// Thread-confined to the session's worker, like everything it touches.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/auth/access_control.hpp"
#include "gateway/config.hpp"
#include "gateway/fanout/subscriber.hpp"
#include "gateway/session/session_policy.hpp"

namespace tickgate::gateway {

class Worker;
class BroadcastEngine;
class Dialect;
class Replies;
class PollingDirectory;
struct WorkerStats;

class Session : public Subscriber, public std::enable_shared_from_this<Session> {
public:
    /// `polling` is where a Socket.IO WebSocket finds the polling session it upgrades;
    /// `offers_websocket_upgrade` is for the polling transport (its Engine.IO open packet says so).
    Session(Worker& worker, PollingDirectory& polling, std::string peer, Wire wire,
            bool offers_websocket_upgrade = false);
    ~Session() override;

    const std::string& id() const noexcept { return id_; }
    const std::string& peer() const noexcept { return peer_; }
    bool is_open() const noexcept { return state_ == State::open; }
    /// A WebSocket probing the upgrade of a polling session: it carries nothing but the probe.
    bool is_probe() const noexcept;
    Worker& worker() noexcept { return worker_; }
    PollingDirectory& polling_directory() noexcept { return polling_; }
    const Config& config() const noexcept;
    WorkerStats& stats() noexcept;
    std::int64_t now() const;

    /// Starts a write of everything queued, unless one is in flight. The transport's.
    virtual void flush() = 0;
    /// Starts the closing handshake: no more deliveries, the close frame after what is queued
    /// (or instead of it when discard_backlog), then the socket closes.
    void close(std::uint16_t code, std::string_view reason, bool discard_backlog);
    /// A malformed Engine.IO/Socket.IO packet: counted, logged, closed with 1002 as the Socket.IO
    /// spec asks.
    void close_malformed(std::string_view what);

    // Subscriber: what the worker asks of a session.
    void on_delivered() override;
    void on_status(const StatusFrames& status) override;
    void on_drain() override { close(1001, "going away", false); }
    void on_sweep(std::int64_t now_ns) override;
    void on_worker_paused(std::int64_t ns) override { liveness_.last_activity_ns += ns; }
    // Subscriber: the operator API's calls (gateway/admin/).
    bool on_announcement(const StatusFrames& frames) override;
    bool describe(SessionInfo& out) const override;
    /// A Socket.IO client gets a DISCONNECT (41) first, as at token expiry: it sees the disconnect
    /// ("io server disconnect") and does not reconnect by itself.
    void on_operator_close(std::uint16_t code, std::string_view reason) override;

    // For the dialects: what they queue, and the state they share.
    /// Queues one frame (or several) built in place by `build(std::string&)`; false when it did not fit.
    template <typename Build>
    bool queue_built(Build&& build) {
        return queue().push_control_built(std::forward<Build>(build), now());
    }
    /// One already-encoded Engine.IO/Socket.IO packet or v1 object as a text frame.
    bool queue_text(std::string_view payload);
    /// The status frames of feeds that are stale now (a newly greeted client must hear of them).
    void queue_stale_statuses();
    /// Applies the client message rate limit: false when the message must be dropped (the client
    /// was told, or is being closed).
    bool admit_client_message();
    /// The subscriptions gauge follows the entries this session holds.
    void sync_subscription_gauge();
    // Access control (gateway/auth/). Checked on open, auth, subscribe, list and refresh, and by
    // the sweep for expiry; never per delivered message.
    /// The transport's, before on_open: the server's access control (null: none) and the identity
    /// its upgrade request's token proved, if any.
    void set_access_control(auth::AccessControl* access, std::optional<auth::Identity> identity);
    bool access_controlled() const noexcept { return access_ && access_->enabled(); }
    /// What the client may subscribe to; null when there is no access control (everything).
    const protocol::Entitlement* entitlement() const noexcept;
    const std::optional<auth::Identity>& identity() const noexcept { return identity_; }
    /// {"op":"auth"}: invalid_token then close 4001, or close 4008 past the per-user limit.
    void authenticate(std::string_view token, Replies& replies);
    /// {"op":"refresh"}: another sub is forbidden and changes nothing; narrower topics drop the
    /// entries no longer allowed (an unsubscribed frame says which).
    void refresh(std::string_view token, Replies& replies);
    enum class ConnectVerdict { accepted, invalid_token, too_many_connections };
    /// A Socket.IO CONNECT, with the token of its `auth` payload if it had one.
    ConnectVerdict connect_with_token(const std::optional<std::string>& token);

    /// The transport's, before on_open: where this session's publishes go (null: it cannot publish).
    void set_publisher(BroadcastEngine* engine) noexcept { publisher_ = engine; }
    BroadcastEngine* publisher() const noexcept { return publisher_; }
    /// Who this session publishes as: its token's sub, or anon:<session id> without one.
    std::string publisher_name() const;

    /// This session becomes `from` (a polling session it upgrades): its id, dialect state, rate
    /// limit state, subscriptions in place in the registry, and queued messages. Same worker, same point in the
    /// update stream, so nothing is missed or repeated.
    void adopt(Session& from);

protected:
    enum class State { open, closing, closed };

    // For the transports.
    /// The connection is open: the dialect greets. See Dialect::on_open for `arg`.
    void on_open(std::string_view arg);
    /// A text frame (WebSocket), or one Engine.IO packet (polling POST).
    void on_text(std::string_view text);
    void on_binary();
    void on_peer_close(std::uint16_t code);
    void note_activity() noexcept { liveness_.last_activity_ns = now(); }
    /// The one record of a write in flight: the transport marks its start and end.
    void begin_write(std::int64_t queued_since_ns) noexcept;
    /// ended_ns: when the kernel took its last byte, if the transport knows (0: now). Returns it,
    /// for the transport's own latency figures.
    std::int64_t end_write(std::int64_t ended_ns = 0) noexcept;
    /// When the oldest byte of a backlog that no write can take yet was queued, 0 if none: what
    /// --slow-timeout-ms measures on a transport whose writes wait for the client (polling).
    virtual std::int64_t backlog_waiting_since_ns() const noexcept { return 0; }
    bool write_in_flight() const noexcept { return liveness_.write_in_flight; }
    /// The transport closes the socket when this becomes true after a write.
    bool close_handshake_done() const noexcept { return state_ == State::closing && queue().empty() && peer_closed_; }
    /// The transport's hook to close the socket (now, or after a grace period it owns).
    virtual void on_closing() = 0;
    /// The socket is done; from open, the connection was lost.
    void mark_closed();

    State state_ = State::open;
    bool peer_closed_ = false;
    std::uint16_t close_code_ = 0;
    std::string close_reason_;

private:
    Worker& worker_;
    PollingDirectory& polling_;
    std::string id_;
    std::string peer_;
    std::unique_ptr<Dialect> dialect_;
    RateLimiter rate_;
    LivenessState liveness_;
    std::size_t counted_subscriptions_ = 0;
    const bool long_polling_;  // the long-polling transport (the only one that offers the upgrade)

    /// The sweep's part for access control: the auth timeout, token_expiring, expiry. False when
    /// it closed the session.
    bool check_access(std::int64_t now_ns);
    /// Takes a verified token as this session's identity (auth, or refresh for the same sub).
    void take_identity(auth::Identity identity);
    /// Unsubscribes what the entitlement no longer allows, with an unsubscribed frame.
    void drop_forbidden_entries();

    auth::AccessControl* access_ = nullptr;
    std::optional<auth::Identity> identity_;
    BroadcastEngine* publisher_ = nullptr;
    std::int64_t opened_ns_ = 0;
    std::int64_t write_started_ns_ = 0;
    bool expiring_sent_ = false;
};

}  // namespace tickgate::gateway
