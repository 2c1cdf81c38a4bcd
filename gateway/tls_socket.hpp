#pragma once
// A TLS connection with OpenSSL reading and writing the TCP socket itself (SSL_set_fd on the
// non-blocking descriptor), instead of asio::ssl::stream's memory BIO pair.
//
// Why: asio::ssl::stream keeps ~68 KiB of buffers per connection for its whole life (two 17 KiB
// record buffers plus a 2 x 17 KiB BIO pair) and copies every record through them; it also arms
// two deadline timers per operation. Here OpenSSL's own record buffers are the only ones, and
// SSL_MODE_RELEASE_BUFFERS frees them whenever a connection is idle, so an idle subscriber holds
// only the SSL object. Without a write sink, ciphertext goes from SSL_write to send() with no copy
// in between.
//
// Two ways to drive it:
//  - read_now()/write_now() plus wait(): the caller tries the operation and, when it would block,
//    waits for the readiness OpenSSL asked for (a read can need the socket writable and the other
//    way round). The WebSocket session reads this way, so a read lands in a buffer shared by the
//    whole worker; it writes into a sink (set_write_sink) and sends the records itself.
//  - async_read_some/async_write_some/async_handshake, for Beast's HTTP parser and asio::async_write.
//    Their handlers never run inside the initiating call (asio's rule for composed operations).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <string>
#include <utility>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace tickgate::gateway {

namespace tls_detail {
struct BioState;  // the connection's BIO: its descriptor, sink and sealer (tls_socket.cpp)
}

using TcpSocket = boost::asio::ip::tcp::socket;

/// What a non-blocking operation needs before it can make progress.
enum class Want { nothing, read, write };

/// Which end of the handshake a TlsSocket plays: the gateway accepts, tickgate-load connects.
enum class TlsRole { server, client };

class TlsSocket {
public:
    using executor_type = TcpSocket::executor_type;
    using lowest_layer_type = TcpSocket;

    /// Takes over a connected socket; `role` names the side of a handshake that has not started.
    /// A client verifies the server as `context` says and sends no SNI (tickgate-load's only use:
    /// loopback addresses, where a server name would mean nothing).
    TlsSocket(TcpSocket socket, SSL_CTX* context, TlsRole role = TlsRole::server);
    TlsSocket(TlsSocket&& other) noexcept;
    TlsSocket& operator=(TlsSocket&&) = delete;
    ~TlsSocket();

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    TcpSocket& next_layer() noexcept { return socket_; }
    SSL* native_handle() noexcept { return ssl_; }

    /// One step of the handshake; Want::nothing with no error when it is complete.
    Want handshake_step(boost::system::error_code& ec);
    /// Up to `size` bytes of plaintext. 0 with `want` set when nothing can be read yet;
    /// asio::error::eof when the peer closed.
    std::size_t read_now(void* data, std::size_t size, Want& want, boost::system::error_code& ec);
    /// Encrypts and sends as much of [data, size) as the socket takes. A write cut short by a full
    /// socket must be retried with the same bytes (OpenSSL already holds the record it started).
    std::size_t write_now(const void* data, std::size_t size, Want& want, boost::system::error_code& ec);
    /// From now on records are appended to `*sink` instead of being sent (nullptr: back to the
    /// socket), so the session sends them itself (in an io_uring batch, or with send());
    /// write_now() then always takes everything. Reads still come from the socket. `*sink` must
    /// outlive the setting.
    /// On a TLS 1.3 server connection the first write_now() into a sink also hands the write
    /// side's records to a TlsRecordSealer (gateway/tls_record_sealer.hpp) for good: after that,
    /// data can only be written into a sink.
    void set_write_sink(std::string* sink) noexcept;
    /// True once this connection's records are made by its sealer rather than by SSL_write.
    bool sealing() const noexcept;
    /// Sends this side's close_notify (RFC 8446 §6.1: before closing the write side, unless an
    /// error alert went out), straight to the socket, once and without waiting: a socket too full
    /// to take the 24-byte alert now goes without it. Nothing after a fatal error, when OpenSSL
    /// forbids it, nor before the handshake finished. Does not wait for the peer's close_notify.
    void send_close_notify() noexcept;

    /// Calls `handler(error_code)` when the socket is ready for what `want` names.
    template <class Handler>
    void wait(Want want, Handler&& handler) {
        socket_.async_wait(want == Want::write ? TcpSocket::wait_write : TcpSocket::wait_read,
                           std::forward<Handler>(handler));
    }

    template <class Handler>
    void async_handshake(Handler&& handler) {
        boost::system::error_code ec;
        const Want want = handshake_step(ec);
        if (ec || want == Want::nothing)
            return boost::asio::post(socket_.get_executor(),
                                     [h = std::forward<Handler>(handler), ec]() mutable { std::move(h)(ec); });
        wait(want, [this, h = std::forward<Handler>(handler)](boost::system::error_code wait_ec) mutable {
            if (wait_ec) return std::move(h)(wait_ec);
            continue_handshake(std::move(h));
        });
    }

    template <class MutableBuffers, class Handler>
    void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
        const auto buffer = first_buffer(buffers);
        start_io<false>(buffer.data(), buffer.size(), std::forward<Handler>(handler));
    }

    template <class ConstBuffers, class Handler>
    void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
        const auto buffer = first_buffer(buffers);
        start_io<true>(const_cast<void*>(buffer.data()), buffer.size(), std::forward<Handler>(handler));
    }

private:
    template <class Buffers>
    static auto first_buffer(const Buffers& buffers) {
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it)
            if (it->size() != 0) return *it;
        return *boost::asio::buffer_sequence_begin(buffers);
    }

    template <class Handler>
    void continue_handshake(Handler&& handler) {
        boost::system::error_code ec;
        const Want want = handshake_step(ec);
        if (ec || want == Want::nothing) return std::move(handler)(ec);
        wait(want, [this, h = std::move(handler)](boost::system::error_code wait_ec) mutable {
            if (wait_ec) return std::move(h)(wait_ec);
            continue_handshake(std::move(h));
        });
    }

    /// A zero-length operation completes at once, as for a socket.
    template <bool Write, class Handler>
    void start_io(void* data, std::size_t size, Handler&& handler) {
        boost::system::error_code ec;
        Want want = Want::nothing;
        const std::size_t n = size == 0 ? 0 : Write ? write_now(data, size, want, ec) : read_now(data, size, want, ec);
        if (n > 0 || ec || size == 0)
            return boost::asio::post(socket_.get_executor(),
                                     [h = std::forward<Handler>(handler), ec, n]() mutable { std::move(h)(ec, n); });
        wait(want, [this, data, size, h = std::forward<Handler>(handler)](boost::system::error_code wait_ec) mutable {
            if (wait_ec) return std::move(h)(wait_ec, std::size_t{0});
            continue_io<Write>(data, size, std::move(h));
        });
    }

    template <bool Write, class Handler>
    void continue_io(void* data, std::size_t size, Handler&& handler) {
        boost::system::error_code ec;
        Want want = Want::nothing;
        const std::size_t n = Write ? write_now(data, size, want, ec) : read_now(data, size, want, ec);
        if (n > 0 || ec) return std::move(handler)(ec, n);
        wait(want, [this, data, size, h = std::move(handler)](boost::system::error_code wait_ec) mutable {
            if (wait_ec) return std::move(h)(wait_ec, std::size_t{0});
            continue_io<Write>(data, size, std::move(h));
        });
    }

    /// write_now() once sealing: [data, size) sealed into the sink, after the KeyUpdate OpenSSL owes.
    std::size_t seal_now(const void* data, std::size_t size, boost::system::error_code& ec);

    /// Notes a failed call: after a fatal error (anything but the peer's own close_notify)
    /// SSL_shutdown must not be called.
    void note_error(const boost::system::error_code& ec) noexcept;

    TcpSocket socket_;
    SSL* ssl_ = nullptr;
    // Owned by ssl_'s BIO; kept here so that a write does not touch the SSL object and the BIO,
    // cold in cache when the fan-out comes round to this connection, to find it.
    tls_detail::BioState* bio_ = nullptr;
    bool fatal_ = false;
};

/// The same non-blocking calls on a plain socket, so a session can be written once for both.
std::size_t read_now(TcpSocket& socket, void* data, std::size_t size, Want& want, boost::system::error_code& ec);
std::size_t write_now(TcpSocket& socket, const void* data, std::size_t size, Want& want, boost::system::error_code& ec);
template <class Handler>
void wait(TcpSocket& socket, Want want, Handler&& handler) {
    socket.async_wait(want == Want::write ? TcpSocket::wait_write : TcpSocket::wait_read, std::forward<Handler>(handler));
}

inline std::size_t read_now(TlsSocket& s, void* data, std::size_t size, Want& want, boost::system::error_code& ec) {
    return s.read_now(data, size, want, ec);
}
inline std::size_t write_now(TlsSocket& s, const void* data, std::size_t size, Want& want,
                             boost::system::error_code& ec) {
    return s.write_now(data, size, want, ec);
}
template <class Handler>
void wait(TlsSocket& s, Want want, Handler&& handler) {
    s.wait(want, std::forward<Handler>(handler));
}

/// Sets what every server context needs for TlsSocket: buffers released when idle, partial writes.
void prepare_tls_context(SSL_CTX* context);
/// For a client context: partial writes as above, buffers kept (a busy reader would reallocate
/// them per wakeup), and read-ahead, so one recv() takes every record the socket holds instead of
/// two recv() calls per record (header, then body).
void prepare_tls_client_context(SSL_CTX* context);

}  // namespace tickgate::gateway
