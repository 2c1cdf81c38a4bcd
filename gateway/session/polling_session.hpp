#pragma once
// Engine.IO v4 HTTP long-polling: the transport of a Socket.IO session whose requests arrive as
// GETs and POSTs on /socket.io/?transport=polling.
//
// Who owns a polling session: the worker whose connection carried the handshake GET. Later GETs and
// POSTs for its sid may come on any connection, accepted by any worker; http/polling_routes.cpp
// looks the owner up in the server's PollingDirectory and posts the request there, and the owner
// posts the HTTP response back (PollingReply). So the session, its queue and its subscriptions stay
// on one thread like every WebSocket session, and a message crosses threads once per response.
//
// What a client can make it hold, and for how long:
// - sessions: each takes a place in --max-connections / --max-connections-per-ip, like a WebSocket;
// - bytes: the session's queue (--max-queue-bytes, conflated past half, closed past all), one
//   response in flight, and a POST body of at most maxPayload (= --max-message-bytes);
// - time: a GET is held at most until the next ping (--heartbeat-ms); a session that POSTs nothing
//   (no pong) for pingInterval + pingTimeout is closed, and a closing one is gone within kCloseGrace.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway/admission.hpp"
#include "gateway/session/session.hpp"
#include "protocol/engineio.hpp"

namespace tickgate::gateway {

/// One /socket.io/ long-polling request (or CORS preflight), as the HTTP connection read it.
struct PollingRequest {
    enum class Method { get, post, options, other };
    Method method = Method::get;
    std::string sid;              // empty: a handshake
    std::string body;             // POST only
    std::string origin;           // the Origin header; empty when absent (non-browser clients)
    std::string request_headers;  // Access-Control-Request-Headers of a preflight
    std::string ip;               // the client's address, for the connection limits
    std::string peer;             // "ip:port", for logs
    bool keep_alive = true;
};

/// The way back to the HTTP connection a request came on. Used on the session's worker; send()
/// hands the response to the connection's own worker (`home`), so the connection is only ever
/// touched, and released, by the thread whose io_context its socket belongs to.
/// Every request is answered exactly once while the server runs; an unanswered reply is only
/// dropped when the io_contexts are torn down, after every worker thread has stopped.
class PollingReply {
public:
    /// Runs on `home`: writes `response` (an empty one closes the connection instead).
    using Deliver = std::function<void(std::string response, bool keep_alive)>;

    PollingReply(boost::asio::io_context& home, Deliver deliver) : home_(&home), deliver_(std::move(deliver)) {}
    PollingReply(PollingReply&&) noexcept = default;
    PollingReply& operator=(PollingReply&&) = delete;

    void send(std::string response, bool keep_alive);

private:
    boost::asio::io_context* home_;
    Deliver deliver_;
};

/// The error answer of engine.io's own server: a status and {"code":..,"message":..}; the
/// connection is closed after it.
std::string polling_error_response(const PollingRequest& request, int status, std::string_view reason,
                                   protocol::engineio::HttpError error, bool with_cors = true);

class PollingSession final : public Session {
public:
    PollingSession(Worker& worker, PollingDirectory& polling, ConnectionSlot slot, std::string peer);

    /// The handshake GET is answered with the open packet.
    void start(PollingRequest request, PollingReply reply);
    void on_get(PollingRequest request, PollingReply reply);
    void on_post(PollingRequest request, PollingReply reply);
    /// A held GET is answered as soon as there is something to send; during an upgrade at once
    /// (with a noop when nothing is queued), so the client's poll returns and it can switch.
    void flush() override;

    // The upgrade (session/polling_upgrade.cpp).
    /// Reserves the session for one probing WebSocket: false when closing or already reserved.
    bool claim_upgrade();
    /// The probe answered "3probe": GETs are not held any more.
    void on_probe_started();
    /// The probe ended without upgrading: GETs are held again.
    void on_probe_ended();
    /// The probe is taking the session over: the claim has served its purpose.
    void release_upgrade() noexcept { upgrade_claimed_ = false; }
    /// The WebSocket took the session over: it ends, without a close packet.
    void on_taken_over();

private:
    std::shared_ptr<PollingSession> shared_self();
    void answer_get();
    void on_closing() override;
    /// With no GET held, what is queued waits for the client to fetch it: a client that never
    /// does (while still posting pongs) is a slow consumer like a WebSocket that stopped reading.
    std::int64_t backlog_waiting_since_ns() const noexcept override {
        return !get_ && !queue().empty() ? queue().queued_since_ns() : 0;
    }
    /// The last place the session is touched: it leaves the sid table and its worker.
    void finish();

    ConnectionSlot slot_;
    boost::asio::steady_timer close_timer_;
    std::optional<PollingReply> get_;  // the GET being held, at most one
    std::string get_origin_;
    bool get_keep_alive_ = true;
    bool upgrade_claimed_ = false;  // a probing WebSocket has this session
    bool upgrading_ = false;        // the probe answered "3probe": GETs are not held
    bool upgraded_ = false;
    bool finished_ = false;
    std::vector<protocol::engineio::Packet> packets_;  // reused by every POST
    std::string binary_;
};

}  // namespace tickgate::gateway
