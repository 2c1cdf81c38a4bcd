#pragma once
// Engine.IO v4 HTTP long-polling on /socket.io/?transport=polling, and its upgrade to WebSocket.
//
// Who owns a polling session: the worker whose connection carried the handshake GET. Later GETs and
// POSTs for its sid may come on any connection, accepted by any worker; the connection's worker
// looks the owner up in a process-wide sid table and posts the request there, and the owner posts
// the HTTP response back (PollingReply). So the session, its queue and its subscriptions stay on one
// thread like every WebSocket session, and a message crosses threads once per response, not per
// packet.
//
// On upgrade (a WebSocket with the same sid, "2probe" / "3probe" / "5") the WebSocket connection
// moves to the owner's io_context, and on "5" the WebSocket session takes the polling session's
// place in the registry and its queue (SessionBase::take_over): same thread, same position in the
// update stream, so nothing is lost or sent twice.

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio::ssl {
class context;
}

namespace tickgate::gateway {

class Server;
class Worker;
class ConnectionSlot;
class SessionBase;

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

/// Serves one long-polling request (or preflight) that arrived on a connection of `here`.
/// Worker thread of `here` only.
void serve_polling_request(Worker& here, Server& server, PollingRequest request, PollingReply reply);

/// True while a polling session with this sid lives, on any worker. Any thread.
bool polling_session_exists(std::string_view sid);

/// A WebSocket whose upgrade response is written, for polling session `sid`: continues on the
/// worker that owns the session (the socket moves to that worker's io_context when it is another
/// one) as a probing WebSocket session. Worker thread of `here` only.
template <class Stream>
void continue_polling_upgrade(Worker& here, Stream stream, std::shared_ptr<boost::asio::ssl::context> tls,
                              ConnectionSlot slot, std::string peer, std::string leftover, std::string sid);

/// The polling session `sid` owned by `worker`, or null when it has ended. That worker's thread only.
std::shared_ptr<SessionBase> find_polling_session(Worker& worker, std::string_view sid);

}  // namespace tickgate::gateway
