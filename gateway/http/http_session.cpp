// From an accepted socket to a WebSocket session: TLS handshake, one or more HTTP requests
// (/healthz, /readyz, the /ws and /socket.io/ upgrades), admission and Origin checks, the 101
// response. Socket.IO long-polling requests are routed to polling_routes.cpp, whose answers come
// back to this connection.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <type_traits>

#include "gateway/admission.hpp"
#include "gateway/auth/access_control.hpp"
#include "gateway/config.hpp"
#include "gateway/connection_context.hpp"
#include "gateway/fanout/subscriber.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/health.hpp"
#include "gateway/http/http_session.hpp"
#include "gateway/http/polling_routes.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/polling_directory.hpp"
#include "gateway/session/transport.hpp"
#include "gateway/static_pages.hpp"
#include "protocol/engineio.hpp"
#include "protocol/http_request.hpp"
#include "protocol/http_response.hpp"
#include "protocol/messages.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using protocol::query_param;
using protocol::websocket_accept_key;

// Request line and header fields together (RFC 9112 section 2.3 leaves the bound to the server).
constexpr std::size_t kHeaderLimit = 8 * 1024;

std::string error_body(std::string_view message) { return "{\"error\":\"" + std::string(message) + "\"}\n"; }

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
public:
    HttpSession(Worker& worker, ConnectionContext& context, Stream stream, std::shared_ptr<asio::ssl::context> tls,
                ConnectionSlot slot, std::string peer)
        : worker_(worker), context_(context), stream_(std::move(stream)), tls_(std::move(tls)), slot_(std::move(slot)),
          peer_(std::move(peer)), timer_(worker.io()) {}

    void start() {
        arm_timer();
        if constexpr (std::is_same_v<Stream, TlsStream>) {
            stream_.async_handshake([self = this->shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
        } else {
            do_read();
        }
    }

private:
    /// Bounds the wait for a request: the first (the WebSocket open) or, on a kept-alive
    /// long-polling connection, the next one.
    void arm_timer() {
        timer_.expires_after(std::chrono::milliseconds(context_.config.handshake_timeout_ms));
        timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
            if (auto self = weak.lock(); self && !ec) self->on_timeout();
        });
    }

    void on_timeout() {
        if (upgraded_) return;
        timed_out_ = true;
        // A kept-alive plain HTTP connection (health probes) also ends here; it was counted as http.
        if (requests_ == 0) {
            TG_LOG(debug, "connection %s: no WebSocket open within %u ms, closing", peer_.c_str(),
                   context_.config.handshake_timeout_ms);
            context_.admission.count(ConnectionResult::timeout);
        }
        beast::error_code ec;
        socket_of(stream_).close(ec);
    }

    void on_handshake(beast::error_code ec) {
        if (ec) {
            if (!timed_out_) {
                context_.admission.count(ConnectionResult::tls_error);
                TG_LOG(debug, "connection %s: TLS handshake failed: %s", peer_.c_str(), ec.message().c_str());
            }
            return close_socket();
        }
        do_read();
    }

    void do_read() {
        parser_.emplace();
        parser_->header_limit(kHeaderLimit);
        // Bodies are long-polling POSTs, at most maxPayload (--max-message-bytes) each.
        parser_->body_limit(std::max<std::uint64_t>(64 * 1024, context_.config.max_message_bytes));
        http::async_read(stream_, buffer_, *parser_,
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec) {
            // A client closing a kept-alive HTTP connection is the normal end, not an error.
            const bool quiet = ec == http::error::end_of_stream || ec == asio::error::eof ||
                               ec == asio::error::operation_aborted || timed_out_ || requests_ > 0;
            if (ec == http::error::header_limit) return reply_too_large();
            if (!quiet) {
                context_.admission.count(ConnectionResult::bad_handshake);
                TG_LOG(debug, "connection %s: bad HTTP request: %s", peer_.c_str(), ec.message().c_str());
            }
            return close_socket();
        }
        ++requests_;
        route(parser_->get());
    }

    void route(http::request<http::string_body>& req) {
        const std::string_view target(req.target().data(), req.target().size());
        const auto qmark = target.find('?');
        const auto path = target.substr(0, qmark);
        const auto query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
        const bool keep_alive = req.keep_alive();

        if (path == "/socket.io/" || path == "/socket.io") return socketio_request(req, query);
        if (req.method() != http::verb::get) {
            count_http();
            return reply(protocol::http_response(405, "Method Not Allowed", "application/json", error_body("only GET is served"),
                                  false, "Allow: GET\r\n"),
                         false);
        }
        if (path == "/healthz") {
            count_http();
            return reply_health(context_.health.healthz(), keep_alive);
        }
        if (path == "/readyz") {
            count_http();
            return reply_health(context_.health.readyz(), keep_alive);
        }
        if (path == "/" || path == "/index.html") {
            count_http();
            return reply(protocol::http_response(200, "OK", "text/html; charset=utf-8", index_html(), keep_alive,
                                  "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; "
                                  "style-src 'unsafe-inline'; script-src 'unsafe-inline'\r\n"),
                         keep_alive);
        }
        if (path != "/ws") {
            count_http();
            return reply(protocol::http_response(404, "Not Found", "application/json", error_body("not found; WebSocket clients use /ws"),
                                  keep_alive),
                         keep_alive);
        }
        upgrade(req, query);
    }

    /// /socket.io/: Engine.IO v4. Long-polling requests (and CORS preflights) go to the polling
    /// transport (polling_routes.cpp, session/polling_session.cpp); a WebSocket opens a session, or
    /// with a sid probes the upgrade of a polling session.
    void socketio_request(http::request<http::string_body>& req, std::string_view query) {
        namespace eio = protocol::engineio;
        eio::Query q;
        std::string body;
        auto error = eio::parse_query(query, q);
        if (error == eio::QueryError::none &&
            (q.transport == eio::Transport::polling || req.method() == http::verb::options))
            return polling_request(req, q);
        if (error == eio::QueryError::none && req.method() != http::verb::get) error = eio::QueryError::unknown_transport;
        if (error == eio::QueryError::none && !q.sid.empty() && !context_.polling.owner(q.sid)) {
            count_http();
            eio::encode_http_error(eio::HttpError::unknown_sid, body);
            return reply(protocol::http_response(400, "Bad Request", "application/json", body, false), false);
        }
        if (error != eio::QueryError::none) {
            count_http();
            eio::encode_http_error(eio::http_error_for(error), body);
            return reply(protocol::http_response(400, "Bad Request", "application/json", body, false), false);
        }
        wire_ = Wire::socketio;
        upgrade_sid_.assign(q.sid);
        upgrade(req, {});
    }

    /// Hands the request to the polling transport; its answer comes back on this worker. The wait
    /// for a held GET is bounded by the session's pings, so the request timer stops meanwhile.
    void polling_request(http::request<http::string_body>& req, const protocol::engineio::Query& q) {
        count_http();
        timer_.cancel();
        PollingRequest request;
        request.method = req.method() == http::verb::get    ? PollingRequest::Method::get
                         : req.method() == http::verb::post ? PollingRequest::Method::post
                         : req.method() == http::verb::options ? PollingRequest::Method::options
                                                               : PollingRequest::Method::other;
        request.sid.assign(q.sid);
        request.body = std::move(req.body());
        request.origin = std::string(req[http::field::origin]);
        request.request_headers = std::string(req[http::field::access_control_request_headers]);
        request.ip = slot_.ip();
        request.peer = peer_;
        request.keep_alive = req.keep_alive();
        PollingReply answer(worker_.io(), [self = this->shared_from_this()](std::string bytes, bool keep_alive) {
            if (bytes.empty()) return self->close_socket();
            if (keep_alive) self->arm_timer();
            self->reply(std::move(bytes), keep_alive);
        });
        serve_polling_request(worker_, context_, std::move(request), std::move(answer));
    }

    void upgrade(const http::request<http::string_body>& req, std::string_view query) {
        const auto& config = context_.config;
        // Only WebSocket clients count against the limits: health probes must still be answered
        // by a gateway that is merely full, or a liveness check would restart it.
        if (!slot_.admitted()) {
            context_.admission.count(ConnectionResult::rejected_limit);
            return reply(protocol::http_response(503, "Service Unavailable", "application/json", error_body("connection limit reached"),
                                  false, "Retry-After: 1\r\n"),
                         false);
        }
        if (!beast::websocket::is_upgrade(req)) {
            context_.admission.count(ConnectionResult::bad_handshake);
            return reply(protocol::http_response(426, "Upgrade Required", "application/json",
                                  error_body("this is a WebSocket endpoint: connect with a WebSocket client"), false,
                                  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"),
                         false);
        }
        if (context_.health.draining() || worker_.draining()) {
            context_.admission.count(ConnectionResult::rejected_limit);
            return reply(protocol::http_response(503, "Service Unavailable", "application/json", error_body("shutting down"), false),
                         false);
        }
        const auto origin = req[http::field::origin];
        if (!protocol::origin_allowed(config.allowed_origins, std::string_view(origin.data(), origin.size()))) {
            context_.admission.count(ConnectionResult::rejected_origin);
            TG_LOG(info, "connection %s: Origin %.*s not allowed", peer_.c_str(), static_cast<int>(origin.size()),
                   origin.data());
            return reply(protocol::http_response(403, "Forbidden", "application/json", error_body("origin not allowed"), false), false);
        }
        const auto key = req[http::field::sec_websocket_key];
        const auto version = req[http::field::sec_websocket_version];
        if (!protocol::valid_websocket_key(std::string_view(key.data(), key.size())) || version != "13") {
            context_.admission.count(ConnectionResult::bad_handshake);
            return reply(protocol::http_response(400, "Bad Request", "application/json",
                                  error_body("Sec-WebSocket-Key (base64 of 16 bytes) and Sec-WebSocket-Version: 13 are required"), false,
                                  "Sec-WebSocket-Version: 13\r\n"),
                         false);
        }
        if (access_enabled() && !authenticate_upgrade(req)) return;
        subscribe_list_ = query_param(query, "subscribe");
        upgraded_ = true;
        write_buffer_ = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Server: tickgate\r\nSec-WebSocket-Accept: " +
                        websocket_accept_key(std::string_view(key.data(), key.size())) + "\r\n\r\n";
        asio::async_write(stream_, asio::buffer(write_buffer_),
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_upgraded(ec); });
    }

    bool access_enabled() const noexcept { return context_.access && context_.access->enabled(); }

    /// A request past the 8 KiB header limit (RFC 9110 §5.4, RFC 9112 §3): 414 when the request
    /// line itself did not end within it, else 431; with access control on, a token too long for
    /// it, most likely, and the body says so.
    void reply_too_large() {
        context_.admission.count(ConnectionResult::bad_handshake);
        const auto unparsed = buffer_.data();
        const bool long_target =
            protocol::request_too_large_status(
                !parser_->get().target().empty(),
                std::string_view(static_cast<const char*>(unparsed.data()), unparsed.size()), kHeaderLimit) == 414;
        const std::string body =
            access_enabled()
                ? "{\"error\":\"invalid_token\",\"message\":\"request too large (a token is at most 8192 bytes)\"}\n"
                : "{\"error\":\"bad_request\",\"message\":\"request line and header fields are at most 8192 bytes\"}\n";
        if (long_target) return reply(protocol::http_response(414, "URI Too Long", "application/json", body, false), false);
        reply(protocol::http_response(431, "Request Header Fields Too Large", "application/json", body, false), false);
    }

    /// The token of the upgrade request (?token= or Authorization: Bearer), when there is one:
    /// verified before the 101, so a bad one never gets a WebSocket. False when it answered.
    bool authenticate_upgrade(const http::request<http::string_body>& req) {
        const std::string_view target(req.target().data(), req.target().size());
        const auto qmark = target.find('?');
        const std::string from_query =
            qmark == std::string_view::npos ? std::string() : query_param(target.substr(qmark + 1), "token");
        const auto authorization = req[http::field::authorization];
        const std::string_view header(authorization.data(), authorization.size());
        constexpr std::string_view kBearer = "Bearer ";
        const bool has_bearer = header.size() > kBearer.size() && header.starts_with(kBearer);
        if (from_query.empty() && !has_bearer) return true;
        const std::string token = has_bearer ? std::string(header.substr(kBearer.size())) : from_query;
        if (token.size() > auth::kMaxTokenBytes) {
            context_.admission.count(ConnectionResult::bad_handshake);
            const std::string body = "{\"error\":\"invalid_token\",\"message\":\"token longer than 8192 bytes\"}\n";
            if (has_bearer)
                reply(protocol::http_response(431, "Request Header Fields Too Large", "application/json", body, false), false);
            else
                reply(protocol::http_response(414, "URI Too Long", "application/json", body, false), false);
            return false;
        }
        auto verified = context_.access->verify(token);
        if (auto* error = std::get_if<auth::TokenError>(&verified)) {
            context_.admission.count(ConnectionResult::bad_handshake);
            TG_LOG(info, "connection %s: upgrade refused: %s", peer_.c_str(),
                   std::string(auth::token_error_message(*error)).c_str());
            std::string body = "{\"error\":\"invalid_token\",\"message\":";
            protocol::append_json_string(auth::token_error_message(*error), body);
            body += "}\n";
            reply(protocol::http_response(401, "Unauthorized", "application/json", body, false,
                                          "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"),
                  false);
            return false;
        }
        auto identity = context_.access->identify(std::move(std::get<auth::TokenClaims>(verified)));
        if (!identity.slot.admitted()) {
            context_.admission.count(ConnectionResult::rejected_limit);
            TG_LOG(info, "connection %s: %s is at --max-connections-per-user", peer_.c_str(),
                   identity.claims.sub.c_str());
            reply(protocol::http_response(503, "Service Unavailable", "application/json",
                                          error_body("too many connections for this user"), false,
                                          "Retry-After: 1\r\n"),
                  false);
            return false;
        }
        identity_ = std::move(identity);
        return true;
    }

    void on_upgraded(beast::error_code ec) {
        timer_.cancel();
        if (ec) return close_socket();
        context_.admission.count(ConnectionResult::websocket);
        const auto pending = buffer_.data();
        std::string leftover(static_cast<const char*>(pending.data()), pending.size());
        if (!upgrade_sid_.empty())
            return continue_polling_upgrade(worker_, context_.polling, std::move(stream_), std::move(tls_),
                                            std::move(slot_), std::move(peer_), std::move(leftover),
                                            std::move(upgrade_sid_));
        start_websocket_session(worker_, context_.polling, std::move(stream_), std::move(tls_), std::move(slot_),
                                std::move(peer_), std::move(leftover), std::move(subscribe_list_), wire_,
                                context_.access, std::move(identity_), context_.engine);
    }

    void reply(std::string bytes, bool keep_alive) {
        write_buffer_ = std::move(bytes);
        asio::async_write(stream_, asio::buffer(write_buffer_),
                          [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                              if (ec || !keep_alive) return self->close_socket();
                              self->do_read();
                          });
    }

    void reply_health(const HealthAnswer& answer, bool keep_alive) {
        const bool ok = answer.status == 200;
        reply(protocol::http_response(answer.status, ok ? "OK" : "Service Unavailable", "application/json", answer.body,
                                      keep_alive),
              keep_alive);
    }

    void count_http() {
        if (requests_ == 1) context_.admission.count(ConnectionResult::http);
    }

    void close_socket() {
        timer_.cancel();
        beast::error_code ec;
        // Called once no write is in flight: the reply is out, or the connection failed.
        if constexpr (std::is_same_v<Stream, TlsStream>) stream_.send_close_notify();
        socket_of(stream_).shutdown(TcpSocket::shutdown_both, ec);
        socket_of(stream_).close(ec);
    }

    Worker& worker_;
    ConnectionContext& context_;
    Stream stream_;
    std::shared_ptr<asio::ssl::context> tls_;
    ConnectionSlot slot_;
    std::string peer_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_{16 * 1024};
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string write_buffer_;
    std::string subscribe_list_;
    std::string upgrade_sid_;  // a Socket.IO WebSocket probing the upgrade of this polling session
    std::optional<auth::Identity> identity_;  // what the upgrade request's token proved
    Wire wire_ = Wire::v1;
    unsigned requests_ = 0;
    bool upgraded_ = false;
    bool timed_out_ = false;
};

}  // namespace

void start_connection(Worker& worker, ConnectionContext& context, TcpSocket socket,
                      std::shared_ptr<asio::ssl::context> tls, ConnectionSlot slot) {
    beast::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    socket.set_option(asio::ip::tcp::no_delay(true), ec);  // we batch ourselves; Nagle only adds latency
    std::string peer = remote.address().to_string() + ":" + std::to_string(remote.port());
    if (tls) {
        TlsStream stream(std::move(socket), tls->native_handle());
        std::make_shared<HttpSession<TlsStream>>(worker, context, std::move(stream), std::move(tls), std::move(slot),
                                                 std::move(peer))
            ->start();
    } else {
        socket.non_blocking(true, ec);  // the WebSocket session reads and writes it without blocking
        std::make_shared<HttpSession<TcpSocket>>(worker, context, std::move(socket), nullptr, std::move(slot),
                                                 std::move(peer))
            ->start();
    }
}

}  // namespace tickgate::gateway
