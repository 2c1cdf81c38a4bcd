// The client side of one connection over plain TCP or TLS (gateway::TlsSocket: OpenSSL on the
// descriptor, no BIO pair to copy records through). Our own framing and upgrade (client_frame.cpp,
// upgrade.cpp) keep Beast out. A wakeup drains the socket into the worker's receive buffer, shared
// by all its connections, and frames are decoded in place there; a connection keeps only the
// unfinished frame at the end of a read. The receive time is read once per drain round.
#include "bench/load/connection.hpp"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/book_tracker.hpp"
#include "bench/load/client_frame.hpp"
#include "bench/load/seq_tracker.hpp"
#include "bench/load/socketio.hpp"
#include "bench/load/topic_choice.hpp"
#include "bench/load/update_scan.hpp"
#include "bench/load/upgrade.hpp"
#include "bench/load/worker.hpp"
#include "gateway/tls_socket.hpp"

namespace tickgate::load {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using gateway::Want;
using Tcp = asio::ip::tcp;

constexpr std::uint64_t kMaxMessage = 16 * 1024 * 1024;
constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();
// A connection with more than this many receive buffers waiting yields to the others in between.
constexpr int kMaxDrainRounds = 8;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kCloseGrace = std::chrono::seconds(1);

std::int64_t realtime_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);  // the clock the server's "ts" is taken from
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t monotonic_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// The connection's byte stream: the TCP socket, with TLS over it once connected (wss://).
/// Non-blocking calls only; the caller waits for the readiness a call asks for.
class ClientStream {
public:
    explicit ClientStream(asio::io_context& io) : tcp_(io) {}

    Tcp::socket& socket() noexcept { return tls_ ? tls_->next_layer() : tcp_; }
    void start_tls(SSL_CTX* context) { tls_.emplace(std::move(tcp_), context, gateway::TlsRole::client); }
    gateway::TlsSocket* tls() noexcept { return tls_ ? &*tls_ : nullptr; }

    std::size_t read_now(void* data, std::size_t size, Want& want, error_code& ec) {
        return tls_ ? tls_->read_now(data, size, want, ec) : gateway::read_now(tcp_, data, size, want, ec);
    }
    /// True when TLS holds received bytes not yet returned by read_now() (a read returns one record).
    bool buffered() noexcept { return tls_ && SSL_has_pending(tls_->native_handle()) == 1; }
    std::size_t write_now(const void* data, std::size_t size, Want& want, error_code& ec) {
        return tls_ ? tls_->write_now(data, size, want, ec) : gateway::write_now(tcp_, data, size, want, ec);
    }
    template <class Handler>
    void wait(Want want, Handler&& handler) {
        gateway::wait(socket(), want, std::forward<Handler>(handler));
    }

private:
    Tcp::socket tcp_;  // moved into tls_ at start_tls()
    std::optional<gateway::TlsSocket> tls_;
};

class ClientConnection final : public Connection {
public:
    ClientConnection(Worker& worker, std::size_t slot, std::size_t index)
        : worker_(worker), run_(worker.run_context()), slot_(slot), index_(index), stream_(worker.io()),
          timer_(worker.io()),
          slow_(run_.options.slow_mode != SlowMode::none && is_slow(index, run_.options.slow_fraction)),
          mask_key_(static_cast<std::uint32_t>(index * 0x9E3779B1u + 0x7F4A7C15u)), watch_tag_(worker.next_watch_tag()) {}

    void start() override {
        started_ns_ = monotonic_ns();
        ++stats().launched;
        error_code ec;
        auto& socket = stream_.socket();
        socket.open(Tcp::v4(), ec);
        if (ec) return fail_connect(ec);
        if (slow_ && run_.options.slow_rcvbuf > 0) {
            // Before connect(), so the window it advertises is small from the start (and the
            // kernel does not autotune it): a stalled client's backlog then stays at the server.
            const int size = static_cast<int>(run_.options.slow_rcvbuf);
            ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        }
        if (!run_.sources.empty()) {
            // Let connect() pick the port per (source, destination) pair, so each source address
            // offers its whole ephemeral range instead of bind() reserving ports up front.
            const int one = 1;
            ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            socket.bind(Tcp::endpoint(run_.sources[index_ % run_.sources.size()], 0), ec);
            if (ec) return fail_connect(ec);
        }
        timer_.expires_after(kHandshakeTimeout);
        timer_.async_wait([self = self()](error_code e) {
            if (!e && self->phase_ < Phase::open) self->fail(self->stats().failures.timeout);
        });
        socket.async_connect(run_.server, [self = self()](error_code e) { self->on_connect(e); });
    }

    void shut_down() override {
        if (phase_ == Phase::done) return;
        if (phase_ != Phase::open) return finish();
        closing_by_us_ = true;
        begin_close(1000);
    }

    void fold_counts() override {
        if (folded_) return;
        folded_ = true;
        const int c = slow_ ? kSlow : kNormal;
        stats().seq[c].add(seq_.counts());
        stats().books[c].add(books_.counts());
        stats().books50[c].add(books_.counts(Channel::book50));
        stats().trades[c].add(trades_.counts());
    }

    void on_readable() override { do_read(); }
    void on_drain() override {
        if (slow_ && phase_ == Phase::open && run_.options.slow_mode == SlowMode::stall) do_read();
    }
    std::uint32_t watch_tag() const noexcept override { return watch_tag_; }

private:
    enum class Phase { connecting, upgrading, open, closing, done };

    std::shared_ptr<ClientConnection> self() { return std::static_pointer_cast<ClientConnection>(shared_from_this()); }
    ThreadStats& stats() { return worker_.stats(); }
    bool plain_v1() const { return run_.options.protocol == WireProtocol::v1; }

    // ---- connect, TLS, upgrade ----

    void on_connect(error_code ec) {
        if (phase_ == Phase::done) return;
        if (ec) return fail_connect(ec);
        stream_.socket().set_option(Tcp::no_delay(true), ec);
        if (!run_.tls) {
            stream_.socket().non_blocking(true, ec);
            if (ec) return fail_connect(ec);
            return send_upgrade();
        }
        stream_.start_tls(run_.tls->native_handle());
        stream_.tls()->async_handshake([self = self()](error_code e) {
            if (self->phase_ == Phase::done) return;
            if (e) return self->fail(self->stats().failures.tls);
            self->send_upgrade();
        });
    }

    void send_upgrade() {
        phase_ = Phase::upgrading;
        const auto& o = run_.options;
        std::string target = o.url.target;
        if (plain_v1() && o.subscribe_via == SubscribeVia::query) {
            target += target.find('?') == std::string::npos ? "?subscribe=" : "&subscribe=";
            bool first = true;
            for (const auto i : run_.choices[index_]) {
                if (!first) target += ',';
                first = false;
                target += run_.topics[i];
            }
        }
        const std::string key = make_websocket_key();
        accept_ = expected_accept(key);
        pending_ = build_upgrade_request(o.url.host + ":" + std::to_string(o.url.port), target, key);
        flush_writes();
        do_read();  // the response, then frames: consume() tells them apart by phase
    }

    void on_open() {
        timer_.cancel();
        phase_ = Phase::open;
        auto& s = stats();
        s.handshake.record(monotonic_ns() - started_ns_);
        ++s.established;
        ++s.open;
        if (plain_v1() && run_.options.subscribe_via == SubscribeVia::message) {
            std::string request = R"({"op":"subscribe","id":1,"topics":[)";
            bool first = true;
            for (const auto i : run_.choices[index_]) {
                request += first ? "\"" : ",\"";
                first = false;
                request += run_.topics[i];
                request += '"';
            }
            request += "]}";
            send(WsOpcode::text, request);
        }
    }

    // ---- reading ----

    /// Reads while the socket has data and this connection should read, then waits for more.
    void do_read() {
        for (int round = 0; round < kMaxDrainRounds; ++round) {
            if (phase_ == Phase::done || reading_) return;
            std::size_t limit = kUnlimited;
            if (slow_ && ready_ && phase_ == Phase::open && !run_.draining.load(std::memory_order_relaxed)) {
                if (run_.options.slow_mode == SlowMode::stall) return;  // the socket buffer fills, then the server's queue
                if (next_read_ > std::chrono::steady_clock::now()) {
                    timer_.expires_at(next_read_);
                    timer_.async_wait([self = self()](error_code ec) {
                        if (!ec && self->phase_ == Phase::open) self->do_read();
                    });
                    return;
                }
                limit = slow_read_size();
            }
            if (!read_round(limit)) return;
        }
        asio::post(worker_.io(), [self = self()] { self->do_read(); });
    }

    std::size_t slow_read_size() const {
        // A fiftieth of a second's worth per read keeps the pace smooth without many tiny reads.
        return static_cast<std::size_t>(std::max(64.0, run_.options.slow_rate / 50));
    }

    /// Fills the worker's buffer (after the unfinished frame kept from last time) with up to `limit`
    /// bytes, handles what is complete and keeps the rest. True when the socket may hold more.
    /// reading_ stays set meanwhile: a close begun by a frame must not start a read of its own
    /// into the buffer being decoded.
    ///
    /// A read that came back short with nothing left inside TLS has emptied the socket, so it
    /// waits at once instead of making one more recv() to hear EAGAIN (a syscall per wakeup, most
    /// of which carry one message). Either wait reports data that is already there: the worker's
    /// set is level-triggered, and Asio re-arms the descriptor (EPOLL_CTL_MOD) for every async_wait.
    bool read_round(std::size_t limit) {
        reading_ = true;
        const auto buffer = worker_.receive_buffer(std::max(needed_, partial_.size() + 4096));
        std::size_t filled = partial_.size(), got = 0;
        std::memcpy(buffer.data(), partial_.data(), filled);
        Want want = Want::nothing;
        error_code ec;
        while (filled < buffer.size() && got < limit) {
            const std::size_t space = std::min(buffer.size() - filled, limit - got);
            const std::size_t n = stream_.read_now(buffer.data() + filled, space, want, ec);
            if (n == 0) break;
            filled += n;
            got += n;
            if (n < space && !stream_.buffered()) {
                want = Want::read;
                break;
            }
        }
        const bool window = run_.in_window.load(std::memory_order_relaxed);
        if (got > 0) account_read(got, window);
        const std::size_t used = consume(buffer.data(), filled, realtime_ns(), window);
        reading_ = false;
        if (phase_ == Phase::done) return false;
        partial_.assign(buffer.data() + used, filled - used);
        if (ec) return lost(), false;
        if (want == Want::nothing) return true;
        // Normal readers wait in the worker's readiness set; slow ones pace themselves with Asio
        // waits and the timer, as does a read that needs the socket writable (TLS), which must
        // leave the level-triggered set meanwhile or be reported again and again.
        if (want == Want::read && !slow_) {
            if (!watched_) watched_ = worker_.watch(stream_.socket().native_handle(), slot_, watch_tag_);
            if (watched_) return false;
        }
        if (watched_) {
            worker_.unwatch(stream_.socket().native_handle());
            watched_ = false;
        }
        reading_ = true;
        stream_.wait(want, [self = self()](error_code e) {
            self->reading_ = false;
            if (self->phase_ == Phase::done) return;
            if (e) return self->lost();
            self->do_read();
        });
        return false;
    }

    void account_read(std::size_t n, bool window) {
        if (window) stats().bytes[slow_ ? kSlow : kNormal] += n;
        if (slow_ && run_.options.slow_mode == SlowMode::rate) {
            const auto pause = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(n) / run_.options.slow_rate));
            next_read_ = std::max(next_read_, std::chrono::steady_clock::now()) + pause;
        }
    }

    /// Handles the upgrade response (while upgrading) and every complete frame in [data, size);
    /// returns the bytes used.
    std::size_t consume(const char* data, std::size_t size, std::int64_t now_ns, bool window) {
        std::size_t at = 0;
        if (phase_ == Phase::upgrading) {
            const auto r = parse_upgrade_response(std::string_view(data, size), accept_);
            using S = UpgradeResponse::Status;
            if (r.status == S::incomplete) return 0;  // over 16 KiB without an end it is malformed
            if (r.status == S::rejected) return fail(stats().failures.http_status[r.http_status]), 0;
            if (r.status == S::malformed) return fail(stats().failures.upgrade), 0;
            at = r.header_bytes;
            on_open();
        }
        needed_ = 0;
        while (phase_ != Phase::done) {
            ServerFrame frame;
            std::size_t consumed = 0, needed = 0;
            const auto status =
                decode_server_frame(std::string_view(data + at, size - at), kMaxMessage, frame, consumed, needed);
            if (status == DecodeStatus::error) return protocol_error(), at;
            if (status == DecodeStatus::need_more) {
                needed_ = needed;  // the next read's buffer must hold the whole frame
                break;
            }
            at += consumed;
            on_frame(frame, now_ns, window);
        }
        return at;
    }

    void on_frame(const ServerFrame& frame, std::int64_t now_ns, bool window) {
        switch (frame.op) {
        case WsOpcode::ping: send(WsOpcode::pong, frame.payload); return;
        case WsOpcode::pong: return;
        case WsOpcode::close: return on_server_close(close_code_of(frame.payload));
        default: break;
        }
        std::string_view message;
        WsOpcode op;
        if (!assembler_.add(frame, message, op)) {
            if (assembler_.error()) protocol_error();
            return;
        }
        if (op != WsOpcode::text) return void(++stats().control);
        if (plain_v1()) on_v1(message, now_ns, window);
        else on_socketio(message, now_ns, window);
    }

    void on_v1(std::string_view text, std::int64_t now_ns, bool window) {
        const auto m = scan_message(text, run_.latency_key);
        auto& s = stats();
        switch (m.kind) {
        case ScannedMessage::Kind::update: return on_update(text, m, now_ns, window);
        case ScannedMessage::Kind::subscribed: ++s.acks; return on_ready();
        case ScannedMessage::Kind::error:
            ++s.errors;
            if (!worker_.logged_error) {
                worker_.logged_error = true;
                std::fprintf(stderr, "tickgate-load: server error (first of this thread): %.*s\n",
                             static_cast<int>(std::min<std::size_t>(text.size(), 300)), text.data());
            }
            return;
        case ScannedMessage::Kind::malformed: ++s.malformed; return;
        case ScannedMessage::Kind::other: ++s.control; return;
        }
    }

    void on_socketio(std::string_view text, std::int64_t now_ns, bool window) {
        const auto p = parse_socketio(text);
        auto& s = stats();
        using K = SocketIoPacket::Kind;
        switch (p.kind) {
        case K::open: send(WsOpcode::text, "40"); return;
        case K::ping: send(WsOpcode::text, "3"); return;
        case K::connected: {
            std::vector<std::string> topics;
            for (const auto i : run_.choices[index_]) topics.push_back(run_.topics[i]);
            send(WsOpcode::text, socketio_subscribe(topics));
            return on_ready();  // Socket.IO servers need not acknowledge a subscribe event
        }
        case K::event:
            if (p.event == "subscribed") return void(++s.acks);
            if (const auto m = scan_message(p.arg, run_.latency_key); m.kind == ScannedMessage::Kind::update)
                return on_update(p.arg, m, now_ns, window);
            ++s.control;
            return;
        case K::malformed: ++s.malformed; return;
        default: ++s.control; return;
        }
    }

    /// `text` is the message `m` was scanned from (books read their levels from it).
    void on_update(std::string_view text, const ScannedMessage& m, std::int64_t now_ns, bool window) {
        const Channel channel = channel_of(m.topic);
        switch (channel) {
        case Channel::ticker: seq_.on_update(m.topic, m.seq, m.snapshot); break;
        case Channel::book:
        case Channel::book50:
            books_.on_message(text, m, channel);
            if (!books_.first_fault().empty() && !book_fault_logged_) {
                book_fault_logged_ = true;
                if (worker_.book_faults_logged < 5) {
                    ++worker_.book_faults_logged;
                    std::fprintf(stderr, "tickgate-load: connection %zu: %s\n", index_, books_.first_fault().c_str());
                }
            }
            break;
        case Channel::trade: trades_.on_update(m.topic, m.seq, m.snapshot); break;
        }
        if (m.snapshot) return;
        auto& s = stats();
        ++s.received;
        if (!window) return;
        const int c = slow_ ? kSlow : kNormal;
        if (run_.latency_key.empty()) s.latency[c].record(now_ns - m.ts_ns);
        else if (m.sent_ns != 0) s.latency[c].record(now_ns - m.sent_ns);
        else ++s.latency_field_missing;  // not measured from ts: the two figures would mix
        ++s.delivered[c];
        if (channel == Channel::book || channel == Channel::book50) ++s.delivered_books[c];
        else if (channel == Channel::trade) ++s.delivered_trades[c];
    }

    void on_ready() {
        if (ready_) return;
        ready_ = true;
        stats().ready.record(monotonic_ns() - started_ns_);
        if (run_.options.churn) {
            ++stats().churn_cycles;
            closing_by_us_ = true;
            begin_close(1000);
        }
    }

    // ---- writing ----

    void send(WsOpcode op, std::string_view payload) {
        if (close_sent_) return;
        append_client_frame(pending_, op, payload, mask_key_);
        flush_writes();
    }

    /// Writes are few and small (the upgrade, the subscription, pongs, the close): sent at once,
    /// and only a socket that is full makes the rest wait for writability.
    void flush_writes() {
        if (writing_ || pending_.empty() || phase_ == Phase::done) return;
        Want want = Want::nothing;
        error_code ec;
        // A write cut short is retried from the same bytes (TlsSocket's rule); later frames only append.
        pending_.erase(0, stream_.write_now(pending_.data(), pending_.size(), want, ec));
        if (ec) return pending_.clear();  // nothing more can go out; the read side sees the end
        if (want == Want::nothing) return;
        writing_ = true;
        stream_.wait(want, [self = self()](error_code e) {
            self->writing_ = false;
            if (e || self->phase_ == Phase::done) return;
            self->flush_writes();
            if (!self->writing_ && self->phase_ == Phase::closing && self->server_closed_ && self->pending_.empty())
                self->finish();
        });
    }

    // ---- closing ----

    void begin_close(std::uint16_t code) {
        if (close_sent_) return;
        append_client_close(pending_, code, "", mask_key_);
        close_sent_ = true;
        phase_ = Phase::closing;
        flush_writes();
        timer_.cancel();
        timer_.expires_after(kCloseGrace);
        timer_.async_wait([self = self()](error_code ec) {
            if (!ec) self->finish();
        });
        do_read();  // a stalled reader still wants the server's close frame
    }

    void on_server_close(std::uint16_t code) {
        server_closed_ = true;
        if (!closing_by_us_ && !run_.stopping.load(std::memory_order_relaxed)) count_disconnect(code);
        if (!close_sent_) begin_close(code == 1005 ? 1000 : code);
        if (!writing_ && pending_.empty()) finish();
    }

    void lost() {
        if (phase_ == Phase::upgrading || phase_ == Phase::connecting) return fail(stats().failures.upgrade);
        if (!server_closed_ && !closing_by_us_ && !run_.stopping.load(std::memory_order_relaxed)) count_disconnect(1006);
        finish();
    }

    void protocol_error() {
        if (!closing_by_us_ && !run_.stopping.load(std::memory_order_relaxed)) count_disconnect(1002);
        finish();
    }

    void count_disconnect(std::uint16_t code) {
        if (disconnect_counted_) return;
        disconnect_counted_ = true;
        ++stats().disconnects[code];
    }

    void fail_connect(error_code ec) {
        auto& f = stats().failures;
        if (ec.value() == EMFILE || ec.value() == ENFILE) return fail(f.fd_limit);
        if (ec.value() == EADDRNOTAVAIL) return fail(f.no_port);
        fail(f.connect);
    }

    void fail(std::uint64_t& counter) {
        if (phase_ == Phase::done) return;
        if (!run_.stopping.load(std::memory_order_relaxed)) ++counter;
        finish();
    }

    void finish() {
        if (phase_ == Phase::done) return;
        const bool was_open = phase_ == Phase::open || phase_ == Phase::closing;
        phase_ = Phase::done;
        timer_.cancel();
        error_code ignored;
        if (watched_) worker_.unwatch(stream_.socket().native_handle());
        watched_ = false;
        stream_.socket().close(ignored);
        if (was_open) --stats().open;
        fold_counts();
        worker_.on_connection_done(slot_, was_open);
    }

    Worker& worker_;
    RunContext& run_;
    std::size_t slot_, index_;
    ClientStream stream_;
    asio::steady_timer timer_;  // handshake timeout, then the slow reader's pace, then the close grace
    std::string partial_;       // the unfinished frame (or upgrade response) at the end of the last read
    std::size_t needed_ = 0;    // that frame's whole size once its header is in
    std::string pending_;       // frames not yet written
    std::string accept_;
    SeqTracker seq_;       // tickers
    BookTracker books_;    // book., book50.
    SeqTracker trades_;    // trade.
    MessageAssembler assembler_;
    std::chrono::steady_clock::time_point next_read_{};
    std::int64_t started_ns_ = 0;
    Phase phase_ = Phase::connecting;
    const bool slow_;
    const std::uint32_t mask_key_;
    const std::uint32_t watch_tag_;
    bool watched_ = false;  // in the worker's readiness set
    bool ready_ = false, reading_ = false, writing_ = false;
    bool close_sent_ = false, server_closed_ = false, closing_by_us_ = false;
    bool disconnect_counted_ = false, folded_ = false;
    bool book_fault_logged_ = false;
};

}  // namespace

std::shared_ptr<Connection> make_connection(Worker& worker, std::size_t slot, std::size_t index) {
    return std::make_shared<ClientConnection>(worker, slot, index);
}

}  // namespace tickgate::load
