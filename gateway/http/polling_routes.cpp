#include "gateway/http/polling_routes.hpp"

#include <boost/asio/post.hpp>

#include <unistd.h>

#include "gateway/admission.hpp"
#include "gateway/config.hpp"
#include "gateway/connection_context.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/health.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/polling_directory.hpp"
#include "gateway/session/transport.hpp"
#include "protocol/http_response.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
namespace eio = protocol::engineio;
using boost::system::error_code;
using protocol::cors_headers;
using protocol::http_response;

namespace {

std::string preflight_response(const PollingRequest& request) {
    std::string headers = cors_headers(request.origin);
    headers += "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n";
    if (!request.request_headers.empty()) headers += "Access-Control-Allow-Headers: " + request.request_headers + "\r\n";
    headers += "Access-Control-Max-Age: 86400\r\n";
    return http_response(204, "No Content", "", "", request.keep_alive, headers);
}

void open_session(Worker& here, ConnectionContext& context, PollingRequest request, PollingReply reply) {
    if (request.method != PollingRequest::Method::get)
        return reply.send(
            polling_error_response(request, 400, "Bad Request", eio::HttpError::bad_handshake_method), false);
    if (context.health.draining() || here.draining()) {
        context.admission.count(ConnectionResult::rejected_limit);
        return reply.send(http_response(503, "Service Unavailable", "application/json", "{\"error\":\"shutting down\"}\n",
                                        false, cors_headers(request.origin)),
                          false);
    }
    // The session outlives the connection that opened it, so it holds a place of its own.
    ConnectionSlot slot = context.admission.slot_for(request.ip);
    if (!slot.admitted()) {
        context.admission.count(ConnectionResult::rejected_limit);
        return reply.send(http_response(503, "Service Unavailable", "application/json",
                                        "{\"error\":\"connection limit reached\"}\n", false,
                                        "Retry-After: 1\r\n" + cors_headers(request.origin)),
                          false);
    }
    auto session = std::make_shared<PollingSession>(here, context.polling, std::move(slot), request.peer);
    session->set_access_control(context.access, std::nullopt);  // Socket.IO's token comes in its CONNECT
    session->set_publisher(context.engine);
    here.attach(session);
    session->start(std::move(request), std::move(reply));
}

/// Moves a stream's socket to another io_context: the descriptor (and the TLS state on it) stays,
/// the reactor registration changes. Nothing may be pending on the socket.
template <class Stream>
void rehome(Stream& stream, asio::io_context& io, error_code& ec) {
    TcpSocket& socket = socket_of(stream);
    const auto endpoint = socket.local_endpoint(ec);
    if (ec) return;
    const bool non_blocking = socket.non_blocking();
    const auto fd = socket.release(ec);
    if (ec) return;
    TcpSocket moved(io);
    moved.assign(endpoint.protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        return;
    }
    moved.non_blocking(non_blocking, ec);
    socket = std::move(moved);  // a socket's move assignment takes the other's executor and reactor
}

}  // namespace

void serve_polling_request(Worker& here, ConnectionContext& context, PollingRequest request, PollingReply reply) {
    if (!protocol::origin_allowed(context.config.allowed_origins, request.origin)) {
        context.admission.count(ConnectionResult::rejected_origin);
        TG_LOG(info, "connection %s: Origin %s not allowed", request.peer.c_str(), request.origin.c_str());
        return reply.send(polling_error_response(request, 403, "Forbidden", eio::HttpError::forbidden, false), false);
    }
    if (request.method == PollingRequest::Method::options) return reply.send(preflight_response(request), request.keep_alive);
    if (request.sid.empty()) return open_session(here, context, std::move(request), std::move(reply));
    Worker* owner = context.polling.owner(request.sid);
    if (!owner)
        return reply.send(polling_error_response(request, 400, "Bad Request", eio::HttpError::unknown_sid), false);
    asio::post(owner->io(), [owner, &polling = context.polling, request = std::move(request),
                             reply = std::move(reply)]() mutable {
        PollingSession* found = polling.find_local(request.sid, *owner);
        if (!found)
            return reply.send(polling_error_response(request, 400, "Bad Request", eio::HttpError::unknown_sid), false);
        // A request can end the session (a close packet, a malformed body): keep it alive until the
        // handler returns.
        const auto session = std::static_pointer_cast<PollingSession>(found->shared_from_this());
        if (request.method == PollingRequest::Method::get) return session->on_get(std::move(request), std::move(reply));
        if (request.method == PollingRequest::Method::post) return session->on_post(std::move(request), std::move(reply));
        reply.send(polling_error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
    });
}

template <class Stream>
void continue_polling_upgrade(Worker& here, PollingDirectory& polling, Stream stream,
                              std::shared_ptr<asio::ssl::context> tls, ConnectionSlot slot, std::string peer,
                              std::string leftover, std::string sid) {
    Worker* owner = polling.owner(sid);
    error_code ec;
    if (owner && owner != &here) {
        rehome(stream, owner->io(), ec);
        TG_LOG(info, "session %s %s: upgrade connection moved from worker %u to worker %u%s%s", sid.c_str(),
               peer.c_str(), here.index(), owner->index(), ec ? ": " : "", ec ? ec.message().c_str() : "");
    }
    if (!owner || ec) {
        // The session ended since the upgrade request was checked: nothing to probe.
        socket_of(stream).close(ec);
        return;
    }
    // The sid is the session's open argument: for Socket.IO it names the session to upgrade.
    asio::post(owner->io(), [owner, &polling, stream = std::move(stream), tls = std::move(tls), slot = std::move(slot),
                             peer = std::move(peer), leftover = std::move(leftover), sid = std::move(sid)]() mutable {
        start_websocket_session(*owner, polling, std::move(stream), std::move(tls), std::move(slot), std::move(peer),
                                std::move(leftover), std::move(sid), Wire::socketio);
    });
}

template void continue_polling_upgrade<TlsStream>(Worker&, PollingDirectory&, TlsStream,
                                                  std::shared_ptr<asio::ssl::context>, ConnectionSlot, std::string,
                                                  std::string, std::string);
template void continue_polling_upgrade<TcpSocket>(Worker&, PollingDirectory&, TcpSocket,
                                                  std::shared_ptr<asio::ssl::context>, ConnectionSlot, std::string,
                                                  std::string, std::string);

}  // namespace tickgate::gateway
