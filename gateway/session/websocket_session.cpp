// The WebSocket transport: reads client frames into the session (session.cpp, and its dialect) and
// writes the session's queue with exactly one write in flight. Our own RFC 6455
// framing rather than beast::websocket::stream, so that every queued frame, pre-built once for all
// clients, goes out in one socket write (one TLS record where it fits).
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "gateway/admission.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/session.hpp"
#include "gateway/session/transport.hpp"
#include "gateway/uring_writer.hpp"
#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// How long a closing connection waits for the client's close frame, or for a stalled write to end:
// a stalled client gets 2 s to read its close frame (1008 "slow consumer") before the socket goes.
constexpr std::chrono::milliseconds kCloseGrace{2000};
// The worker's one plaintext buffer, grown past this by a burst, is given back once drained.
constexpr std::size_t kKeepWriteCapacity = 64 * 1024;
// A session's own write buffer keeps what one ordinary write needs (a message or two) between
// writes and give back what a burst grew them to (its snapshots at subscribe, a backlog): kept at
// a burst's size they were 3 of the 27 KiB an idle connection cost (10,000 held, 10 topics each).
constexpr std::size_t kKeepSessionBufferCapacity = 1024;
// Reads in a row from one connection before the others get a turn.
constexpr int kReadsPerTurn = 8;

template <class Stream>
class WebSocketSession final : public Session, public UringSink {
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

public:
    WebSocketSession(Worker& worker, PollingDirectory& polling, Stream stream, std::shared_ptr<asio::ssl::context> tls,
                     ConnectionSlot slot, std::string peer, Wire wire)
        : Session(worker, polling, std::move(peer), wire), stream_(std::move(stream)), tls_(std::move(tls)),
          slot_(std::move(slot)),
          close_timer_(worker.io()), reader_(worker.config().max_message_bytes) {}

    void start(std::string_view leftover, std::string_view open_arg) {
        TG_LOG(info, "connect %s session %s%s", peer().c_str(), id().c_str(),
               wire() == Wire::socketio ? " (socket.io)" : "");
        // On the uring backend the worker's flush pass sends this session's bytes in its batch; a
        // full file table leaves the session on the epoll path, which is as correct, only dearer.
        if (UringWriter* uring = worker().uring()) {
            file_slot_ = uring->attach(socket_of(stream_).native_handle());
            if (file_slot_ >= 0) uring_ = uring;
        }
        // TLS records are made in memory on both backends, so a TLS 1.3 connection's are sealed by
        // the gateway (tls_record_sealer.hpp) rather than by SSL_write: ~15 % less CPU per message.
        if constexpr (kTls) stream_.set_write_sink(&records_);
        on_open(open_arg);
        if (!leftover.empty()) consume(leftover);
        flush();
        do_read();
    }

    void flush() override {
        if (write_in_flight() || socket_closed_ || state_ == State::closed) return;
        // records_: what OpenSSL wrote while reading (an alert), waiting for the next write.
        if (queue().empty() && records_.empty()) return;
        start_write();
    }

    /// The uring backend's answer: every byte of outgoing_ is out, or the connection failed.
    void on_sent(int result, std::int64_t done_ns) override {
        if (result < 0) return on_write(error_code(-result, boost::system::system_category()), done_ns);
        on_write({}, done_ns);
    }

private:
    std::shared_ptr<WebSocketSession> shared_self() {
        return std::static_pointer_cast<WebSocketSession>(shared_from_this());
    }

    /// The queue's bytes (as TLS records made in memory, over TLS) become outgoing_. On uring the
    /// worker's submit hands them to the kernel along with every other session's of this pass; on
    /// epoll they go at once with send().
    void start_write() {
        // The plaintext lives only until it is encrypted, so one buffer serves the whole worker.
        thread_local std::string plaintext;
        std::string& taken_into = kTls ? plaintext : outgoing_;
        taken_into.clear();
        OutboundQueue::Taken taken;
        if (!queue().empty()) taken = queue().take(taken_into);
        inflight_messages_ = taken.messages;
        inflight_oldest_ts_ = taken.oldest_update_ts_ns;
        inflight_bytes_ = taken_into.size();
        begin_write(taken.queued_since_ns);
        if constexpr (kTls) {
            error_code ec;
            Want want = Want::nothing;
            // Into the sink, write_now() takes everything or fails: anything short of that would
            // drop plaintext already counted as queued, so it ends the connection instead.
            const std::size_t taken_bytes =
                plaintext.empty() ? 0 : write_now(stream_, plaintext.data(), plaintext.size(), want, ec);
            if (!ec && taken_bytes < plaintext.size()) ec = asio::error::broken_pipe;
            if (plaintext.capacity() > kKeepWriteCapacity) std::string().swap(plaintext);
            if (ec) return on_write(ec);
            if (!sealing_counted_ && stream_.sealing()) {
                sealing_counted_ = true;
                stats().tls_sealed_connections.add();
            }
            // records_ keeps collecting what a read makes OpenSSL write while these are in flight.
            outgoing_.swap(records_);
        }
        if (!uring_) {
            written_ = 0;
            return send_records();
        }
        uring_->send(file_slot_, outgoing_.data(), outgoing_.size(),
                     std::shared_ptr<UringSink>(shared_self(), static_cast<UringSink*>(this)));
    }

    /// The epoll backend: sends outgoing_ from written_ on without waiting while the socket takes
    /// it (the usual case: no handler, no allocation); a full socket makes the rest wait for room.
    /// Over TLS, unlike SSL_write's, this retry needs nothing from OpenSSL: the records are whole
    /// bytes already.
    void send_records() {
        const int fd = socket_of(stream_).native_handle();
        while (written_ < outgoing_.size()) {
            const ssize_t n = ::send(fd, outgoing_.data() + written_, outgoing_.size() - written_, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                written_ += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return wait(stream_, Want::write, [self = shared_self()](error_code ec) {
                    if (ec) return self->on_write(ec);
                    self->send_records();
                });
            return on_write(error_code(n < 0 ? errno : ECONNRESET, boost::system::system_category()));
        }
        on_write({});
    }

    /// Gives the registered-file slot back once nothing can be in flight on it.
    void release_slot() {
        if (file_slot_ < 0 || write_in_flight()) return;
        uring_->release(file_slot_);
        file_slot_ = -1;
    }

    /// done_ns: when the kernel took the last byte, when known (the uring backend), else now.
    void on_write(error_code ec, std::int64_t done_ns = 0) {
        const std::int64_t ended_ns = end_write(done_ns);
        if (socket_closed_) return release_slot();
        if (ec) return close_socket();
        auto& stats = this->stats();
        stats.messages_sent.add(inflight_messages_);
        if (wire() == Wire::socketio) stats.socketio_messages_sent.add(inflight_messages_);
        stats.bytes_sent.add(inflight_bytes_);
        stats.writes.add();
        if (inflight_oldest_ts_ != 0) stats.fanout_latency.observe_ns(ended_ns - inflight_oldest_ts_);
        // Over TLS none is kept: outgoing_ and records_ trade buffers at every write, so keeping
        // this one would keep two per idle connection (~0.8 KiB, 10,000 held). The next write's
        // records get a fresh one: one malloc of a few hundred bytes per write, from the thread's
        // cache.
        outgoing_.clear();
        if (kTls || outgoing_.capacity() > kKeepSessionBufferCapacity) std::string().swap(outgoing_);
        if (state_ == State::closing && queue().empty()) {
            // Our close frame is out. RFC 6455: the server closes TCP once both close frames are
            // exchanged; after a framing or UTF-8 error (Fail the WebSocket Connection, §7.1.7) it
            // reads nothing more, so it closes at once rather than wait out the grace.
            if (peer_closed_) return close_socket();
            if (reader_.error() != protocol::FrameError::none) half_close();
            return;
        }
        flush();
    }

    void do_read() {
        wait(stream_, read_want_, [self = shared_self()](error_code ec) { self->on_readable(ec); });
    }

    /// Reads into the worker's shared buffer: nothing is held per connection between reads but
    /// the frame reader's partial frame, if any.
    void on_readable(error_code ec) {
        if (ec) return finish(ec);
        auto& buffer = worker().read_scratch();
        // TLS can hold decrypted bytes the socket no longer signals, so read until it would block;
        // a client that keeps the socket full gets its turn again after everyone else's.
        for (int reads = 0; reads < kReadsPerTurn; ++reads) {
            Want want = Want::nothing;
            const std::size_t n = read_now(stream_, buffer.data(), buffer.size(), want, ec);
            if (ec) return finish(ec);
            if (n == 0) {
                read_want_ = want;
                flush();
                return do_read();
            }
            note_activity();
            consume(std::string_view(buffer.data(), n));
            if (state_ == State::closed) return;
        }
        flush();
        asio::post(worker().io(), [self = shared_self()] { self->on_readable({}); });
    }

    void consume(std::string_view data) {
        protocol::ClientMessage msg;
        while (state_ != State::closed && reader_.next(data, msg)) {
            using Kind = protocol::ClientMessage::Kind;
            switch (msg.kind) {
            case Kind::text: on_text(msg.payload); break;
            case Kind::binary: on_binary(); break;
            case Kind::ping:
                if (state_ == State::open) queue_built([&](std::string& out) { frames::pong(msg.payload, out); });
                break;
            case Kind::pong: break;
            case Kind::close: on_peer_close(msg.close_code); break;
            }
        }
        if (const auto error = reader_.error(); error != protocol::FrameError::none && state_ == State::open) {
            const char* reason = error == protocol::FrameError::too_big        ? "message too big"
                                 : error == protocol::FrameError::invalid_utf8 ? "invalid UTF-8"
                                                                                : "protocol error";
            close(static_cast<std::uint16_t>(error), reason, true);
        }
    }

    void on_closing() override {
        if (close_handshake_done()) return close_socket();
        close_timer_.expires_after(kCloseGrace);
        close_timer_.async_wait([self = shared_self()](error_code ec) {
            if (!ec) self->close_socket();
        });
    }

    /// Ends our side only, and reads on: closing a socket with the client's bytes still unread
    /// would send a reset, which can make the client drop our close frame before reading it. The
    /// client's FIN (or the close grace) then closes it.
    void half_close() {
        if (socket_closed_) return;
        error_code ignored;
        send_close_notify();
        socket_of(stream_).shutdown(TcpSocket::shutdown_send, ignored);
    }

    /// TLS: close_notify, unless a send is still in flight (it would overtake those records, and
    /// an alert a read made waits in records_ behind it: closing then goes without both). Records
    /// made since the last write (an alert) go out before it; when the socket takes only part of
    /// them, close_notify does not follow a cut record, which the client would read as corrupt.
    void send_close_notify() {
        if constexpr (kTls) {
            if (write_in_flight()) return;
            error_code ignored;
            const std::size_t size = records_.size();
            const std::size_t sent = size == 0 ? 0 : socket_of(stream_).send(asio::buffer(records_), 0, ignored);
            records_.clear();
            if (sent == size) stream_.send_close_notify();
        }
    }

    void close_socket() {
        if (socket_closed_) return;
        socket_closed_ = true;
        close_timer_.cancel();
        error_code ignored;
        send_close_notify();
        socket_of(stream_).shutdown(TcpSocket::shutdown_both, ignored);
        socket_of(stream_).close(ignored);
        // With a send in flight the slot goes when it completes: until then the ring's table, not
        // the descriptor number just freed, names this socket.
        release_slot();
    }

    /// The read loop has ended: the socket is done. The last place a session is touched.
    void finish(error_code ec) {
        if (finished_) return;
        finished_ = true;
        const bool was_open = state_ == State::open;
        mark_closed();
        close_socket();
        if (was_open) {
            close_code_ = peer_closed_ ? close_code_ : 1006;
            TG_LOG(info, "disconnect %s session %s code 1006 (connection lost: %s)", peer().c_str(), id().c_str(),
                   ec.message().c_str());
        } else {
            TG_LOG(info, "disconnect %s session %s code %u%s%s", peer().c_str(), id().c_str(), close_code_,
                   close_reason_.empty() ? "" : " reason ", close_reason_.c_str());
        }
        worker().detach(*this);
    }

    Stream stream_;
    std::shared_ptr<asio::ssl::context> tls_;  // keeps the context of this connection's certificate alive
    ConnectionSlot slot_;
    asio::steady_timer close_timer_;
    protocol::FrameReader reader_;
    std::string outgoing_;      // the bytes of the write in flight (over TLS, its records)
    std::string records_;       // TLS: records made since outgoing_ was taken (an alert a read caused)
    UringWriter* uring_ = nullptr;
    int file_slot_ = -1;  // the ring's registered-file slot, -1 when not attached
    std::size_t written_ = 0;
    std::size_t inflight_bytes_ = 0;
    Want read_want_ = Want::read;
    std::size_t inflight_messages_ = 0;
    std::int64_t inflight_oldest_ts_ = 0;
    bool socket_closed_ = false;
    bool finished_ = false;
    bool sealing_counted_ = false;
};

}  // namespace

template <class Stream>
void start_websocket_session(Worker& worker, PollingDirectory& polling, Stream stream,
                             std::shared_ptr<asio::ssl::context> tls, ConnectionSlot slot, std::string peer,
                             std::string leftover, std::string open_arg, Wire wire, auth::AccessControl* access,
                             std::optional<auth::Identity> identity, BroadcastEngine* engine) {
    auto session = std::make_shared<WebSocketSession<Stream>>(worker, polling, std::move(stream), std::move(tls),
                                                              std::move(slot), std::move(peer), wire);
    session->set_access_control(access, std::move(identity));
    session->set_publisher(engine);
    worker.attach(session);
    session->start(leftover, open_arg);
}

template void start_websocket_session<TlsStream>(Worker&, PollingDirectory&, TlsStream,
                                                 std::shared_ptr<asio::ssl::context>, ConnectionSlot, std::string,
                                                 std::string, std::string, Wire, auth::AccessControl*,
                                                 std::optional<auth::Identity>, BroadcastEngine*);
template void start_websocket_session<TcpSocket>(Worker&, PollingDirectory&, TcpSocket,
                                                 std::shared_ptr<asio::ssl::context>, ConnectionSlot, std::string,
                                                 std::string, std::string, Wire, auth::AccessControl*,
                                                 std::optional<auth::Identity>, BroadcastEngine*);

}  // namespace tickgate::gateway
