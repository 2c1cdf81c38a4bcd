#include "gateway/tls_socket.hpp"

#include "gateway/tls_record_sealer.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace tickgate::gateway {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// OpenSSL wants the thread's error queue empty before an SSL call (else SSL_get_error can blame
/// the call for an old entry). ERR_clear_error() in OpenSSL 3.0 resets all 16 slots of the queue
/// every time: ~0.2 us here, a fifth of a 300-byte SSL_write (bench/README, "TLS 1.3 records
/// sealed by the gateway"). The queue is almost always empty already (every failure path
/// empties it), and peeking costs a fraction of that.
void ensure_error_queue_empty() noexcept {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

/// Turns the outcome of an SSL call that returned `ret` <= 0 into what the caller waits for, or an
/// error. The thread's OpenSSL error queue is left empty either way: a stale entry there would be
/// read as the cause of the next connection's failure.
Want classify(SSL* ssl, int ret, error_code& ec) {
    const int saved_errno = errno;
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ: return Want::read;
    case SSL_ERROR_WANT_WRITE: return Want::write;
    case SSL_ERROR_ZERO_RETURN: ec = asio::error::eof; break;
    case SSL_ERROR_SYSCALL:
        if (const unsigned long e = ERR_get_error(); e != 0)
            ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
        else if (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE)
            ec = saved_errno == 0 ? error_code(asio::error::eof) : error_code(saved_errno, boost::system::system_category());
        else
            ec = error_code(saved_errno, boost::system::system_category());
        break;
    default: {
        const unsigned long e = ERR_get_error();
        ec = e != 0 ? error_code(static_cast<int>(e), asio::error::get_ssl_category())
                    : error_code(asio::error::connection_aborted);
    }
    }
    ensure_error_queue_empty();
    return Want::nothing;
}

}  // namespace

namespace tls_detail {

// A minimal socket BIO: send(MSG_NOSIGNAL)/recv on the descriptor. OpenSSL's own socket BIO
// uses write()/read(), which go through the VFS layer (~6% of the gateway's CPU in the fan-out
// profile: vfs_write, fdget_pos) and raise SIGPIPE when a client has gone.
// With a write sink set (set_write_sink), writes append there instead: the records a WebSocket
// session sends itself (in an io_uring batch, or with send() on epoll), produced in place with no
// second copy by a memory BIO pair.
//
// Sealing (server side, TLS 1.3, with a sink; tls_record_sealer.hpp says why): OpenSSL reports each
// write traffic secret through the context's key-log callback, and each record it makes through
// the connection's message callback, so the sealer knows the key and the next record's number.
// Sealing starts only once OpenSSL owes the wire nothing (every record it made went through the
// BIO). From then on every record on the wire is the sealer's: when OpenSSL still writes one (an
// alert, the KeyUpdate that answers the peer's), its bytes are dropped here and its content, which
// the message callback hands over in clear, is sealed in its place.
struct BioState {
    int fd;
    std::uint32_t owed = 0;             // bytes of records OpenSSL made that the BIO has not taken
    bool sealing = false;               // every record from now on is the sealer's
    bool broken = false;                // a record could not be sealed: the stream cannot go on
    bool rekey_pending = false;         // our KeyUpdate is out, OpenSSL has not reported the new key
    bool key_update_requested = false;  // the peer asked for our KeyUpdate
    bool alert_sent = false;            // close_notify or a fatal alert: no more data (RFC 8446 §6)
    std::string* sink = nullptr;
    TlsRecordSealer sealer;
};
}  // namespace tls_detail
using tls_detail::BioState;

namespace {

BioState& bio_state(BIO* bio) { return *static_cast<BioState*>(BIO_get_data(bio)); }
int bio_fd(BIO* bio) { return bio_state(bio).fd; }

bool retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

int bio_write(BIO* bio, const char* data, int size) {
    BIO_clear_retry_flags(bio);
    BioState& state = bio_state(bio);
    // Sealing: OpenSSL's record is under a key and number the wire has moved past; its content is
    // sealed in its place by on_record_message.
    if (state.sealing) return size;
    const auto took = [&state](int n) {
        state.owed -= std::min(state.owed, static_cast<std::uint32_t>(n));
        return n;
    };
    if (std::string* sink = state.sink) {
        sink->append(data, static_cast<std::size_t>(size));
        return took(size);
    }
    const ssize_t n = ::send(bio_fd(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return took(static_cast<int>(n));
    if (retryable(errno)) BIO_set_retry_write(bio);
    return -1;
}

int bio_read(BIO* bio, char* data, int size) {
    BIO_clear_retry_flags(bio);
    const ssize_t n = ::recv(bio_fd(bio), data, static_cast<std::size_t>(size), 0);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) {
        BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // what BIO_eof() reports; OpenSSL asks before calling it an error
        return 0;
    }
    if (retryable(errno)) BIO_set_retry_read(bio);
    return -1;
}

long bio_ctrl(BIO* bio, int cmd, long, void*) {
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // nothing buffered here
    case BIO_CTRL_EOF: return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0;
    default: return 0;
    }
}

int bio_destroy(BIO* bio) {
    delete static_cast<BioState*>(BIO_get_data(bio));
    BIO_set_data(bio, nullptr);
    return 1;
}

int socket_bio_type() {
    static const int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    return type;
}

const BIO_METHOD* socket_bio_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(socket_bio_type(), "tickgate socket");
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_ctrl(m, bio_ctrl);
        BIO_meth_set_destroy(m, bio_destroy);
        return m;
    }();
    return method;
}

/// The connection's state, when `ssl` is one of TlsSocket's (a context can also serve SSL objects
/// on other BIOs: tls_handshake_bench's memory pairs).
BioState* socket_state(const SSL* ssl) {
    BIO* bio = SSL_get_wbio(ssl);
    return bio && BIO_method_type(bio) == socket_bio_type() ? static_cast<BioState*>(BIO_get_data(bio)) : nullptr;
}

/// Puts a record the sealer made where OpenSSL's would have gone: the sink, else the socket (only
/// SSL_shutdown's close_notify writes without a sink; like OpenSSL's, it goes if the socket takes it).
void emit(BioState& state, std::uint8_t content_type, const void* data, std::size_t size) {
    std::string local;
    std::string& out = state.sink ? *state.sink : local;
    if (!state.sealer.seal(content_type, data, size, out)) {
        state.broken = true;
        return;
    }
    if (!state.sink) (void)::send(state.fd, local.data(), local.size(), MSG_NOSIGNAL);
}

constexpr unsigned char kKeyUpdate = 24;  // HandshakeType key_update (RFC 8446 §4)

void on_record_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL* ssl, void*) {
    BioState* state = socket_state(ssl);
    if (!state) return;
    const auto* bytes = static_cast<const unsigned char*>(buf);
    if (write_p && content_type == SSL3_RT_ALERT) state->alert_sent = true;
    if (!write_p) {
        // KeyUpdate { HandshakeType 24, uint24 length 1, KeyUpdateRequest }: 1 = update_requested.
        if (content_type == SSL3_RT_HANDSHAKE && len >= 5 && bytes[0] == kKeyUpdate && bytes[4] == 1)
            state->key_update_requested = true;
        return;
    }
    if (content_type == SSL3_RT_HEADER) {
        // Called once the record is made, before its bytes go to the BIO.
        if (state->sealing) return;
        state->owed += SSL3_RT_HEADER_LENGTH + (std::uint32_t{bytes[3]} << 8 | bytes[4]);
        if (state->sealer.ready()) state->sealer.count_foreign_record();
        return;
    }
    // Called once the message is written; sealed here, it follows OpenSSL's dropped record. After
    // our KeyUpdate nothing may go out until OpenSSL reports the key it now expects us to use.
    if (state->sealing && (content_type == SSL3_RT_ALERT || content_type == SSL3_RT_HANDSHAKE)) {
        if (state->rekey_pending) {
            state->broken = true;
            return;
        }
        emit(*state, static_cast<std::uint8_t>(content_type), buf, len);
        if (content_type == SSL3_RT_HANDSHAKE && len > 0 && bytes[0] == kKeyUpdate) state->rekey_pending = true;
    }
}

/// "SERVER_TRAFFIC_SECRET_<N> <client random> <secret>" (the NSS key-log format): the write
/// secret of the first application keys, and of each after a KeyUpdate. Records under a new key
/// start again at number 0 (RFC 8446 §5.3).
void on_key_log(const SSL* ssl, const char* line) {
    static constexpr std::string_view kLabel = "SERVER_TRAFFIC_SECRET_";
    BioState* state = socket_state(ssl);
    if (!state || std::strncmp(line, kLabel.data(), kLabel.size()) != 0) return;
    const char* hex = std::strrchr(line, ' ');
    if (!hex) return;
    ++hex;
    unsigned char secret[64];
    std::size_t length = 0;
    auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (; hex[0] && hex[1] && length < sizeof secret; hex += 2)
        secret[length++] = static_cast<unsigned char>(nibble(hex[0]) << 4 | nibble(hex[1]));
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    const RecordCipher aead = cipher ? record_cipher_of_suite(SSL_CIPHER_get_id(cipher)) : RecordCipher::none;
    // A failure here must not reach the handshake's SSL_get_error as the handshake's own: the
    // connection then only stays on SSL_write (or, already sealing, is closed on its next write).
    ERR_set_mark();
    const bool ok = state->sealer.set_secret(aead, std::string_view(reinterpret_cast<char*>(secret), length));
    ERR_pop_to_mark();
    OPENSSL_cleanse(secret, sizeof secret);
    if (ok) state->rekey_pending = false;
    else if (state->sealing) state->broken = true;
}

}  // namespace

void prepare_tls_context(SSL_CTX* context) {
    // RELEASE_BUFFERS: an idle connection gives its two ~17 KiB record buffers back.
    // ENABLE_PARTIAL_WRITE + ACCEPT_MOVING_WRITE_BUFFER: write_now() reports progress record by
    // record, and the caller may retry from a buffer that moved (a std::string that grew).
    SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // A client that drops TCP without close_notify is an ordinary disconnect for a broadcast
    // server, not an error worth a distinct code: read it as end of stream. And no TLS 1.2
    // renegotiation from either side (OpenSSL already refuses the client's by default): a write
    // into a sink must never wait for a read (SSL_ERROR_WANT_READ).
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    // No TLS 1.3 session tickets. Each one costs the server ~115 us of CPU (OpenSSL 3.0 on this
    // machine, bench/tls_handshake_bench: 205 us per handshake with none, 319 with one, 438 with
    // the default two), and buys little here: a full TLS 1.3 handshake is already one round trip,
    // so a resumed one saves the client a certificate check, not latency, and a reconnect storm
    // after a restart is cheaper for the server without them.
    SSL_CTX_set_num_tickets(context, 0);
    // Hands each write traffic secret to the connection's sealer; nothing is written anywhere.
    SSL_CTX_set_keylog_callback(context, on_key_log);
}

void prepare_tls_client_context(SSL_CTX* context) {
    // No RELEASE_BUFFERS here: a client that reads all the time would free and allocate its read
    // buffer on every wakeup (~5% of tickgate-load's CPU in the fan-out profile), and its buffers
    // (~17 KiB each) are a fraction of what asio::ssl::stream kept per connection.
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(context, 1);
}

TlsSocket::TlsSocket(TcpSocket socket, SSL_CTX* context, TlsRole role) : socket_(std::move(socket)), ssl_(SSL_new(context)) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
    BIO* bio = ssl_ ? BIO_new(socket_bio_method()) : nullptr;
    if (!bio) {
        SSL_free(ssl_);  // handshake_step() reports the missing SSL object as no_memory
        ssl_ = nullptr;
        return;
    }
    bio_ = new BioState();
    bio_->fd = socket_.native_handle();
    BIO_set_data(bio, bio_);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_, bio, bio);  // one reference, owned by the SSL object
    if (role == TlsRole::client) {
        SSL_set_connect_state(ssl_);
    } else {
        SSL_set_accept_state(ssl_);
        SSL_set_msg_callback(ssl_, on_record_message);
    }
}

TlsSocket::TlsSocket(TlsSocket&& other) noexcept
    : socket_(std::move(other.socket_)), ssl_(other.ssl_), bio_(other.bio_), fatal_(other.fatal_) {
    other.ssl_ = nullptr;
    other.bio_ = nullptr;
}

void TlsSocket::note_error(const error_code& ec) noexcept {
    if (ec && !(SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN)) fatal_ = true;
}

void TlsSocket::send_close_notify() noexcept {
    if (!ssl_ || fatal_ || !socket_.is_open() || !SSL_is_init_finished(ssl_)) return;
    if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) return;
    set_write_sink(nullptr);
    ensure_error_queue_empty();
    // 0: ours is sent, the peer's not yet read (we do not wait for it); -1: the socket is full.
    SSL_shutdown(ssl_);
    ensure_error_queue_empty();
}

void TlsSocket::set_write_sink(std::string* sink) noexcept {
    if (bio_) bio_->sink = sink;
}

TlsSocket::~TlsSocket() {
    if (ssl_) SSL_free(ssl_);
}

// Every path into OpenSSL checks that the socket is still open: the BIO holds the descriptor's
// number, and once closed that number is handed to the next accepted connection. A write after
// close would otherwise put this connection's TLS records on a stranger's stream.
Want TlsSocket::handshake_step(error_code& ec) {
    if (!ssl_) return ec = asio::error::no_memory, Want::nothing;
    if (!socket_.is_open()) return ec = asio::error::bad_descriptor, Want::nothing;
    ensure_error_queue_empty();
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) return Want::nothing;
    const Want want = classify(ssl_, ret, ec);
    note_error(ec);
    return want;
}

std::size_t TlsSocket::read_now(void* data, std::size_t size, Want& want, error_code& ec) {
    want = Want::nothing;
    if (!ssl_) return ec = asio::error::no_memory, 0;
    if (!socket_.is_open()) return ec = asio::error::bad_descriptor, 0;
    std::size_t n = 0;
    ensure_error_queue_empty();
    const int ret = SSL_read_ex(ssl_, data, size, &n);
    if (ret == 1) return want = Want::nothing, n;
    want = classify(ssl_, ret, ec);
    note_error(ec);
    return 0;
}

bool TlsSocket::sealing() const noexcept { return bio_ && bio_->sealing; }

std::size_t TlsSocket::seal_now(const void* data, std::size_t size, error_code& ec) {
    BioState& state = *bio_;
    // What OpenSSL's SSL_write would refuse is refused here too. Nothing here reads the SSL object,
    // cold in cache by this connection's turn, unless a KeyUpdate is owed.
    const bool writable = state.sink && !state.broken && !fatal_ && !state.alert_sent;
    // RFC 8446 §4.6.3: a peer's KeyUpdate asking for ours is answered before our next data. OpenSSL
    // would send it at its next SSL_write; here it is asked for, and sealed as it goes out.
    if (writable && state.key_update_requested) {
        state.key_update_requested = false;
        if (SSL_get_key_update_type(ssl_) != SSL_KEY_UPDATE_NONE) {
            ensure_error_queue_empty();
            if (SSL_key_update(ssl_, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 || SSL_do_handshake(ssl_) != 1)
                state.broken = true;
            ensure_error_queue_empty();
        }
    }
    // rekey_pending here: this OpenSSL did not report the key after its KeyUpdate (it logs
    // SERVER_TRAFFIC_SECRET_N since 3.0.7); what we would seal the client could not read.
    if (!writable || state.broken || state.rekey_pending ||
        !state.sealer.seal(kContentApplicationData, data, size, *state.sink)) {
        fatal_ = true;
        ec = error_code(EPROTO, boost::system::system_category());
        return 0;
    }
    return size;
}

std::size_t TlsSocket::write_now(const void* data, std::size_t size, Want& want, error_code& ec) {
    want = Want::nothing;
    if (!ssl_) return ec = asio::error::no_memory, 0;
    if (!socket_.is_open()) return ec = asio::error::bad_descriptor, 0;
    if (size == 0) return 0;
    // Sealing starts at a sink write once OpenSSL has reported the key and owes nothing on the
    // wire, unless the client negotiated smaller records (max_fragment_length, RFC 6066 §4), which
    // OpenSSL's SSL_write keeps to.
    if (BioState& state = *bio_; state.sealing) return seal_now(data, size, ec);
    else if (state.sink && state.owed == 0 && state.sealer.ready() && !fatal_ && !state.alert_sent &&
             SSL_is_init_finished(ssl_) &&
             SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl_)) == TLSEXT_max_fragment_length_DISABLED) {
        state.sealing = true;
        return seal_now(data, size, ec);
    }
    std::size_t total = 0;
    // Partial-write mode hands back progress one record (16 KiB) at a time; keep going until the
    // socket is full or everything is out.
    while (total < size) {
        std::size_t n = 0;
        ensure_error_queue_empty();
        const int ret = SSL_write_ex(ssl_, static_cast<const char*>(data) + total, size - total, &n);
        if (ret != 1) {
            want = classify(ssl_, ret, ec);
            note_error(ec);
            break;
        }
        total += n;
    }
    if (ec && total > 0) ec = {};  // report what went out; the error comes back on the next call
    return total;
}

std::size_t read_now(TcpSocket& socket, void* data, std::size_t size, Want& want, error_code& ec) {
    const std::size_t n = socket.read_some(asio::buffer(data, size), ec);
    want = Want::nothing;
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec = {};
        want = Want::read;
    }
    return n;
}

std::size_t write_now(TcpSocket& socket, const void* data, std::size_t size, Want& want, error_code& ec) {
    std::size_t total = 0;
    want = Want::nothing;
    while (total < size) {
        const std::size_t n = socket.write_some(asio::buffer(static_cast<const char*>(data) + total, size - total), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            ec = {};
            want = Want::write;
            break;
        }
        if (ec) break;
        total += n;
    }
    if (ec && total > 0) ec = {};
    return total;
}

}  // namespace tickgate::gateway
