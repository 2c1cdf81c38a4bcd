// The only end-to-end translation unit that includes Beast (it compiles slowly).
#include "client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <functional>

namespace e2e {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

/// Runs `io` until `done` becomes true or the deadline passes. True when done.
bool run_until(asio::io_context& io, const bool& done, Clock::time_point deadline) {
    while (!done) {
        const auto now = Clock::now();
        if (now >= deadline) return false;
        if (io.stopped()) io.restart();
        if (io.run_one_for(deadline - now) == 0 && io.stopped()) {
            // No work left and not done: nothing will ever complete.
            if (!done) return false;
        }
    }
    return true;
}

/// Starts an asynchronous operation with `start(handler)` and waits for it until `deadline`. On
/// timeout, `cancel()` is called and the aborted operation is drained. Returns the operation's error
/// (asio::error::timed_out on timeout).
template <class Start>
ErrorCode await(asio::io_context& io, Clock::time_point deadline, Start start, const std::function<void()>& cancel) {
    bool done = false;
    ErrorCode result;
    start([&](ErrorCode ec, auto&&...) {
        result = ec;
        done = true;
    });
    if (run_until(io, done, deadline)) return result;
    cancel();
    run_until(io, done, Clock::now() + Ms(1000));
    return asio::error::timed_out;
}

ErrorCode tcp_connect(asio::io_context& io, tcp::socket& socket, const std::string& host, int port,
                      const std::string& bind_address, Clock::time_point deadline) {
    ErrorCode ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return ec;
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    socket.open(endpoint.protocol(), ec);
    if (ec) return ec;
    if (!bind_address.empty()) {
        const auto local = asio::ip::make_address(bind_address, ec);
        if (ec) return ec;
        socket.bind(tcp::endpoint(local, 0), ec);
        if (ec) return ec;
    }
    return await(
        io, deadline, [&](auto handler) { socket.async_connect(endpoint, handler); },
        [&] {
            ErrorCode ignored;
            socket.close(ignored);
        });
}

std::string x509_sha256(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string x509_pem(X509* cert) {
    if (!cert) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

void peer_certificate(SSL* ssl, std::string& sha256, std::string* pem = nullptr) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    sha256 = x509_sha256(cert);
    if (pem) *pem = x509_pem(cert);
    if (cert) X509_free(cert);
}

void make_client_context(ssl::context& ctx) {
    ctx.set_verify_mode(ssl::verify_none);
}

std::string describe(const ErrorCode& ec) {
    return ec.message() + " (" + ec.category().name() + ":" + std::to_string(ec.value()) + ")";
}

}  // namespace

// ---------------------------------------------------------------- WssClient

struct WssClient::Impl {
    asio::io_context io{1};
    ssl::context ctx{ssl::context::tls_client};
    std::optional<websocket::stream<ssl::stream<tcp::socket>>> wss;
    std::optional<websocket::stream<tcp::socket>> ws;
    beast::flat_buffer buffer;

    bool read_pending = false, read_done = false;
    ErrorCode read_ec;
    bool closed = false;
    std::optional<int> close_code;
    std::string close_reason;
    int http_status = 0;
    std::string http_body, error, peer_sha256;

    Impl() { make_client_context(ctx); }

    template <class F>
    decltype(auto) with(F&& f) {
        if (wss) return f(*wss);
        return f(*ws);
    }

    void kill_socket() {
        ErrorCode ignored;
        if (wss) beast::get_lowest_layer(*wss).close(ignored);
        if (ws) beast::get_lowest_layer(*ws).close(ignored);
    }

    void note_close_reason() {
        with([&](auto& s) {
            const auto& r = s.reason();
            if (r.code != websocket::close_code::none) {
                close_code = static_cast<int>(r.code);
                close_reason = std::string(r.reason.c_str());
            }
        });
    }
};

WssClient::WssClient() : impl_(std::make_unique<Impl>()) {}

WssClient::~WssClient() {
    if (impl_) impl_->kill_socket();
}

bool WssClient::connect(int port, const ConnectOptions& options) {
    Impl& m = *impl_;
    const auto deadline = Clock::now() + options.timeout;
    tcp::socket socket(m.io);
    if (auto ec = tcp_connect(m.io, socket, options.host, port, options.bind_address, deadline)) {
        m.error = "connect: " + describe(ec);
        return false;
    }
    const std::string host_header =
        options.host_header.empty() ? options.host + ":" + std::to_string(port) : options.host_header;
    if (options.tls) {
        m.wss.emplace(std::move(socket), m.ctx);
        SSL_set_tlsext_host_name(m.wss->next_layer().native_handle(), "localhost");
        auto ec = await(
            m.io, deadline,
            [&](auto handler) { m.wss->next_layer().async_handshake(ssl::stream_base::client, handler); },
            [&] { m.kill_socket(); });
        if (ec) {
            m.error = "TLS handshake: " + describe(ec);
            return false;
        }
        peer_certificate(m.wss->next_layer().native_handle(), m.peer_sha256);
    } else {
        m.ws.emplace(std::move(socket));
    }
    websocket::response_type response;
    const ErrorCode ec = m.with([&](auto& s) {
        s.auto_fragment(false);
        s.read_message_max(64 * 1024 * 1024);
        s.set_option(websocket::stream_base::decorator([headers = options.headers](websocket::request_type& req) {
            for (const auto& [name, value] : headers) req.set(name, value);
        }));
        return await(
            m.io, deadline, [&](auto handler) { s.async_handshake(response, host_header, options.target, handler); },
            [&] { m.kill_socket(); });
    });
    m.http_status = response.result_int();
    m.http_body = response.body();
    if (ec) {
        m.error = "WebSocket handshake: " + describe(ec);
        m.closed = true;
        return false;
    }
    return true;
}

int WssClient::http_status() const { return impl_->http_status; }
const std::string& WssClient::http_body() const { return impl_->http_body; }
const std::string& WssClient::error() const { return impl_->error; }
const std::string& WssClient::peer_certificate_sha256() const { return impl_->peer_sha256; }
bool WssClient::closed() const { return impl_->closed; }
std::optional<int> WssClient::close_code() const { return impl_->close_code; }
const std::string& WssClient::close_reason() const { return impl_->close_reason; }

bool WssClient::send_text(const std::string& text) {
    Impl& m = *impl_;
    if (m.closed) return false;
    const auto ec = m.with([&](auto& s) {
        s.text(true);
        return await(
            m.io, Clock::now() + Ms(5000), [&](auto handler) { s.async_write(asio::buffer(text), handler); },
            [&] { m.kill_socket(); });
    });
    if (ec) m.error = "write: " + describe(ec);
    return !ec;
}

bool WssClient::send_binary(const std::string& bytes) {
    Impl& m = *impl_;
    if (m.closed) return false;
    const auto ec = m.with([&](auto& s) {
        s.binary(true);
        return await(
            m.io, Clock::now() + Ms(5000), [&](auto handler) { s.async_write(asio::buffer(bytes), handler); },
            [&] { m.kill_socket(); });
    });
    if (ec) m.error = "write: " + describe(ec);
    return !ec;
}

std::optional<std::string> WssClient::read_text(Ms timeout) {
    Impl& m = *impl_;
    if (m.closed) return std::nullopt;
    if (!m.read_pending) {
        m.read_pending = true;
        m.read_done = false;
        m.with([&](auto& s) {
            s.async_read(m.buffer, [&m](ErrorCode ec, std::size_t) {
                m.read_ec = ec;
                m.read_done = true;
            });
        });
    }
    if (!run_until(m.io, m.read_done, Clock::now() + timeout)) return std::nullopt;
    m.read_pending = false;
    if (m.read_ec) {
        m.closed = true;
        m.note_close_reason();
        m.error = "read: " + describe(m.read_ec);
        return std::nullopt;
    }
    std::string text = beast::buffers_to_string(m.buffer.data());
    m.buffer.consume(m.buffer.size());
    return text;
}

void WssClient::close(int code, Ms timeout) {
    Impl& m = *impl_;
    if (m.closed) return;
    const auto deadline = Clock::now() + timeout;
    bool close_done = false;
    m.with([&](auto& s) {
        s.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                      [&close_done](ErrorCode) { close_done = true; });
    });
    if (!run_until(m.io, close_done, deadline)) m.kill_socket();
    if (m.read_pending) run_until(m.io, m.read_done, Clock::now() + Ms(500));
    m.kill_socket();
    m.io.restart();
    m.io.poll();
    m.closed = true;
}

// ---------------------------------------------------------------- HTTP

std::string HttpResult::header(const std::string& name) const {
    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        return s;
    };
    for (const auto& [n, v] : headers)
        if (lower(n) == lower(name)) return v;
    return {};
}

namespace {

template <class Stream>
void exchange(asio::io_context& io, Stream& stream, const http::request<http::empty_body>& req, HttpResult& out,
              Clock::time_point deadline, const std::function<void()>& cancel) {
    if (auto ec = await(io, deadline, [&](auto handler) { http::async_write(stream, req, handler); }, cancel)) {
        out.error = "write: " + describe(ec);
        return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    auto ec = await(io, deadline, [&](auto handler) { http::async_read(stream, buffer, parser, handler); }, cancel);
    if (ec && !parser.is_header_done()) {
        out.error = "read: " + describe(ec);
        return;
    }
    const auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& field : res) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = res.body();
    if (ec) out.error = "read: " + describe(ec);
}

}  // namespace

HttpResult http_get(int port, const std::string& target, const HttpOptions& options) {
    HttpResult out;
    asio::io_context io{1};
    const auto deadline = Clock::now() + options.timeout;
    tcp::socket socket(io);
    if (auto ec = tcp_connect(io, socket, options.host, port, options.bind_address, deadline)) {
        out.error = "connect: " + describe(ec);
        return out;
    }
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, options.host + ":" + std::to_string(port));
    req.set(http::field::connection, "close");
    req.set(http::field::user_agent, "tickgate-e2e");
    for (const auto& [name, value] : options.headers) req.set(name, value);
    if (!options.tls) {
        exchange(io, socket, req, out, deadline, [&] {
            ErrorCode ignored;
            socket.close(ignored);
        });
        return out;
    }
    ssl::context ctx{ssl::context::tls_client};
    make_client_context(ctx);
    ssl::stream<tcp::socket> stream(std::move(socket), ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
    auto kill = [&] {
        ErrorCode ignored;
        stream.next_layer().close(ignored);
    };
    if (auto ec = await(io, deadline, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); },
                        kill)) {
        out.error = "TLS handshake: " + describe(ec);
        return out;
    }
    exchange(io, stream, req, out, deadline, kill);
    kill();
    return out;
}

// ---------------------------------------------------------------- TLS probe

TlsProbe tls_probe(int port, int min_version, int max_version, Ms timeout) {
    TlsProbe out;
    asio::io_context io{1};
    const auto deadline = Clock::now() + timeout;
    tcp::socket socket(io);
    if (auto ec = tcp_connect(io, socket, "127.0.0.1", port, "", deadline)) {
        out.error = "connect: " + describe(ec);
        return out;
    }
    ssl::context ctx{ssl::context::tls_client};
    make_client_context(ctx);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);
    SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
    if (min_version) SSL_CTX_set_min_proto_version(ctx.native_handle(), min_version);
    if (max_version) SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
    ssl::stream<tcp::socket> stream(std::move(socket), ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
    auto ec = await(io, deadline, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); },
                    [&] {
                        ErrorCode ignored;
                        stream.next_layer().close(ignored);
                    });
    if (ec) {
        out.error = describe(ec);
        return out;
    }
    out.ok = true;
    out.version = SSL_get_version(stream.native_handle());
    peer_certificate(stream.native_handle(), out.peer_sha256, &out.peer_pem);
    ErrorCode ignored;
    stream.next_layer().close(ignored);
    return out;
}

}  // namespace e2e
