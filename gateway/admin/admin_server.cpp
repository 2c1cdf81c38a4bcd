#include "gateway/admin/admin_server.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdio>
#include <memory>
#include <optional>

#include "feeds/runtime/log.hpp"
#include "feeds/runtime/tcp.hpp"
#include "gateway/admin/admin_api.hpp"
#include "gateway/tls_context_store.hpp"
#include "gateway/tls_socket.hpp"
#include "protocol/http_response.hpp"

namespace tickgate::gateway::admin {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

// A request (or the TLS handshake before the first) must arrive within this; an idle kept-alive
// connection is closed after it too, so a forgotten client cannot pin a descriptor.
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;

std::string_view reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/// What a caller sent (an event name, a topic, a member's key) can reach the log line through the
/// action: control characters are escaped so one call stays one line.
std::string one_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f) {
            out += c;
        } else {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
            out += escaped;
        }
    }
    return out;
}

template <class View>
std::string_view sv(const View& v) {
    return {v.data(), v.size()};
}

TcpSocket& socket_of(TcpSocket& s) { return s; }
TcpSocket& socket_of(TlsSocket& s) { return s.next_layer(); }

template <class Stream>
class AdminConnection : public std::enable_shared_from_this<AdminConnection<Stream>> {
public:
    AdminConnection(AdminApi& api, Stream stream, std::shared_ptr<asio::ssl::context> tls, std::string peer)
        : api_(api), stream_(std::move(stream)), tls_(std::move(tls)), peer_(std::move(peer)),
          timer_(socket_of(stream_).get_executor()) {}

    void start() {
        arm_timer();
        if constexpr (std::is_same_v<Stream, TlsSocket>) {
            stream_.async_handshake([self = this->shared_from_this()](beast::error_code ec) {
                if (ec) return self->fail(ec, "TLS handshake");
                self->do_read();
            });
        } else {
            do_read();
        }
    }

private:
    void arm_timer() {
        timer_.expires_after(kIdleTimeout);
        timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
            if (auto self = weak.lock(); self && !ec) self->close();
        });
    }

    void do_read() {
        arm_timer();
        parser_.emplace();
        parser_->header_limit(kMaxHeaderBytes);
        parser_->body_limit(kMaxBodyBytes);
        http::async_read(stream_, buffer_, *parser_,
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec == http::error::body_limit) {
            // The header was read: the endpoint is known, the body is not read on.
            const auto& req = parser_->get();
            const std::string_view target(req.target().data(), req.target().size());
            api_.count(endpoint_of(target), 413);
            auto r = error_response(413, "payload_too_large", "the body is over 64 KiB");
            return respond(sv(req.method_string()), target, r, false);
        }
        if (ec == http::error::header_limit) {
            Response r = error_response(431, "headers_too_large", "the request's header is over 8 KiB");
            return respond("?", "?", r, false);
        }
        if (ec) return fail(ec, "read");
        auto& req = parser_->get();
        const std::string_view target(req.target().data(), req.target().size());
        const auto auth = req.find(http::field::authorization);
        const Request request{sv(req.method_string()), target,
                              auth == req.end() ? std::string_view{} : sv(auth->value()), req.body()};
        Response r = api_.handle(request);
        respond(request.method, target, r, req.keep_alive());
    }

    void respond(std::string_view method, std::string_view target, Response& r, bool keep_alive) {
        // Refusals are info too: a scan for the key shows up in the log.
        TG_LOG(info, "admin %.*s %.*s from %s: %d, %s", static_cast<int>(method.size()), method.data(),
               static_cast<int>(std::min<std::size_t>(target.size(), 200)), target.data(), peer_.c_str(), r.status,
               one_line(r.action).c_str());
        r.body += '\n';
        out_ = protocol::http_response(r.status, reason_phrase(r.status), "application/json", r.body, keep_alive,
                                       r.extra_headers);
        timer_.cancel();
        asio::async_write(stream_, asio::buffer(out_),
                          [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                              if (ec) return self->fail(ec, "write");
                              if (!keep_alive) return self->close();
                              self->do_read();
                          });
    }

    /// The one error filter: a client going away (or the idle timer closing it) is the normal end.
    void fail(beast::error_code ec, const char* what) {
        const bool expected = ec == http::error::end_of_stream || ec == asio::error::eof ||
                              ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                              ec == asio::error::bad_descriptor;
        if (!expected) TG_LOG(debug, "admin connection %s: %s: %s", peer_.c_str(), what, ec.message().c_str());
        close();
    }

    void close() {
        timer_.cancel();
        beast::error_code ec;
        socket_of(stream_).shutdown(TcpSocket::shutdown_both, ec);
        socket_of(stream_).close(ec);
    }

    AdminApi& api_;
    Stream stream_;
    std::shared_ptr<asio::ssl::context> tls_;  // keeps the context the stream was made with alive
    std::string peer_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string out_;
};

std::string peer_of(const TcpSocket& socket) {
    beast::error_code ec;
    const auto e = socket.remote_endpoint(ec);
    if (ec) return "?";
    return e.address().to_string() + ":" + std::to_string(e.port());
}

}  // namespace

AdminServer::AdminServer(AdminApi& api, const TlsContextStore* tls) : api_(api), tls_(tls), acceptor_(io_) {}

AdminServer::~AdminServer() { stop(); }

bool AdminServer::open(const tcp::endpoint& endpoint, std::string& error) {
    return runtime::open_acceptor(acceptor_, endpoint, " for the admin API", error);
}

tcp::endpoint AdminServer::local_endpoint() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec);
}

void AdminServer::start() {
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::stop() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
}

void AdminServer::do_accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of descriptors: retry shortly rather than spin.
            auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
            timer->async_wait([this, timer](beast::error_code) { do_accept(); });
            return;
        }
        std::string peer = peer_of(socket);
        if (tls_) {
            auto context = tls_->current();
            if (!context) return do_accept();  // cannot happen: the server checks TLS has a certificate
            TlsSocket stream(std::move(socket), context->native_handle());
            std::make_shared<AdminConnection<TlsSocket>>(api_, std::move(stream), std::move(context), std::move(peer))
                ->start();
        } else {
            std::make_shared<AdminConnection<TcpSocket>>(api_, std::move(socket), nullptr, std::move(peer))->start();
        }
        do_accept();
    });
}

}  // namespace tickgate::gateway::admin
