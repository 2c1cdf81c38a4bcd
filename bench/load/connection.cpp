// The client side of one connection, templated over TLS and plain TCP like the gateway's sessions.
// Our own framing and upgrade (client_frame.cpp, upgrade.cpp) keep Beast out: frames are decoded in
// place from one reused receive buffer, and the receive time is read once per socket read.
#include "bench/load/connection.hpp"

#include <netinet/in.h>
#include <time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/load/client_frame.hpp"
#include "bench/load/seq_tracker.hpp"
#include "bench/load/socketio.hpp"
#include "bench/load/topic_choice.hpp"
#include "bench/load/update_scan.hpp"
#include "bench/load/upgrade.hpp"
#include "bench/load/worker.hpp"

namespace tickgate::load {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<Tcp::socket>;

constexpr std::size_t kInitialBuffer = 16 * 1024;      // one TLS record
constexpr std::uint64_t kMaxMessage = 16 * 1024 * 1024;
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

Tcp::socket& socket_of(Tcp::socket& s) { return s; }
Tcp::socket& socket_of(TlsStream& s) { return s.next_layer(); }

template <class Stream>
class ClientConnection final : public Connection {
public:
    ClientConnection(Worker& worker, std::size_t slot, std::size_t index, Stream stream)
        : worker_(worker), run_(worker.run_context()), slot_(slot), index_(index), stream_(std::move(stream)),
          timer_(worker.io()), buffer_(kInitialBuffer),
          slow_(run_.options.slow_mode != SlowMode::none && is_slow(index, run_.options.slow_fraction)),
          mask_key_(static_cast<std::uint32_t>(index * 0x9E3779B1u + 0x7F4A7C15u)) {}

    void start() override {
        started_ns_ = monotonic_ns();
        ++stats().launched;
        error_code ec;
        auto& socket = socket_of(stream_);
        socket.open(Tcp::v4(), ec);
        if (ec) return fail_connect(ec);
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
        stats().seq[slow_ ? kSlow : kNormal].add(seq_.counts());
    }

private:
    enum class Phase { connecting, upgrading, open, closing, done };

    std::shared_ptr<ClientConnection> self() { return std::static_pointer_cast<ClientConnection>(shared_from_this()); }
    ThreadStats& stats() { return worker_.stats(); }
    bool plain_v1() const { return run_.options.protocol == WireProtocol::v1; }

    // ---- connect, TLS, upgrade ----

    void on_connect(error_code ec) {
        if (phase_ == Phase::done) return;
        if (ec) return fail_connect(ec);
        socket_of(stream_).set_option(Tcp::no_delay(true), ec);
        if constexpr (std::is_same_v<Stream, TlsStream>) {
            stream_.async_handshake(asio::ssl::stream_base::client, [self = self()](error_code e) {
                if (self->phase_ == Phase::done) return;
                if (e) return self->fail(self->stats().failures.tls);
                self->send_upgrade();
            });
        } else {
            send_upgrade();
        }
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
        read_upgrade();
    }

    void read_upgrade() {
        stream_.async_read_some(asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_),
                                [self = self()](error_code ec, std::size_t n) { self->on_upgrade_read(ec, n); });
    }

    void on_upgrade_read(error_code ec, std::size_t n) {
        if (phase_ == Phase::done) return;
        if (ec) return fail(stats().failures.upgrade);
        filled_ += n;
        const auto r = parse_upgrade_response(std::string_view(buffer_.data(), filled_), accept_);
        using S = UpgradeResponse::Status;
        if (r.status == S::incomplete) {
            if (filled_ == buffer_.size()) return fail(stats().failures.upgrade);
            return read_upgrade();
        }
        if (r.status == S::rejected) return fail(stats().failures.http_status[r.http_status]);
        if (r.status == S::malformed) return fail(stats().failures.upgrade);
        std::memmove(buffer_.data(), buffer_.data() + r.header_bytes, filled_ - r.header_bytes);
        filled_ -= r.header_bytes;
        on_open();
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
        process(realtime_ns(), run_.in_window.load(std::memory_order_relaxed));
        if (phase_ == Phase::open || phase_ == Phase::closing) do_read();
    }

    // ---- reading ----

    void do_read() {
        if (phase_ == Phase::done || reading_) return;
        if (slow_ && ready_ && phase_ == Phase::open) {
            if (run_.options.slow_mode == SlowMode::stall) return;  // the socket buffer fills, then the server's queue
            const auto now = std::chrono::steady_clock::now();
            if (next_read_ > now) {
                timer_.expires_at(next_read_);
                timer_.async_wait([self = self()](error_code ec) {
                    if (!ec && self->phase_ == Phase::open) self->start_read(self->slow_read_size());
                });
                return;
            }
            return start_read(slow_read_size());
        }
        start_read(buffer_.size() - filled_);
    }

    std::size_t slow_read_size() const {
        // A fiftieth of a second's worth per read keeps the pace smooth without many tiny reads.
        const auto chunk = static_cast<std::size_t>(std::max(64.0, run_.options.slow_rate / 50));
        return std::min(chunk, buffer_.size() - filled_);
    }

    void start_read(std::size_t max_bytes) {
        reading_ = true;
        stream_.async_read_some(asio::buffer(buffer_.data() + filled_, max_bytes),
                                [self = self()](error_code ec, std::size_t n) { self->on_read(ec, n); });
    }

    void on_read(error_code ec, std::size_t n) {
        reading_ = false;
        if (phase_ == Phase::done) return;
        if (ec) return lost();
        const bool window = run_.in_window.load(std::memory_order_relaxed);
        if (window) stats().bytes[slow_ ? kSlow : kNormal] += n;
        if (slow_ && run_.options.slow_mode == SlowMode::rate) {
            const auto pause = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(n) / run_.options.slow_rate));
            next_read_ = std::max(next_read_, std::chrono::steady_clock::now()) + pause;
        }
        filled_ += n;
        process(realtime_ns(), window);
        do_read();
    }

    /// Handles every complete frame in the buffer and keeps the incomplete rest at its front.
    void process(std::int64_t now_ns, bool window) {
        std::size_t at = 0;
        while (phase_ != Phase::done) {
            ServerFrame frame;
            std::size_t consumed = 0, needed = 0;
            const auto status = decode_server_frame(std::string_view(buffer_.data() + at, filled_ - at), kMaxMessage,
                                                    frame, consumed, needed);
            if (status == DecodeStatus::error) return protocol_error();
            if (status == DecodeStatus::need_more) {
                if (needed > buffer_.size()) buffer_.resize(needed);  // a frame larger than the buffer
                break;
            }
            at += consumed;
            on_frame(frame, now_ns, window);
        }
        if (phase_ == Phase::done) return;
        if (at > 0) std::memmove(buffer_.data(), buffer_.data() + at, filled_ - at);
        filled_ -= at;
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
        const auto m = scan_message(text);
        auto& s = stats();
        switch (m.kind) {
        case ScannedMessage::Kind::update: return on_update(m, now_ns, window);
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
            if (const auto m = scan_message(p.arg); m.kind == ScannedMessage::Kind::update)
                return on_update(m, now_ns, window);
            ++s.control;
            return;
        case K::malformed: ++s.malformed; return;
        default: ++s.control; return;
        }
    }

    void on_update(const ScannedMessage& m, std::int64_t now_ns, bool window) {
        seq_.on_update(m.topic, m.seq, m.snapshot);
        if (m.snapshot) return;
        auto& s = stats();
        ++s.received;
        if (!window) return;
        const int c = slow_ ? kSlow : kNormal;
        s.latency[c].record(now_ns - m.ts_ns);
        ++s.delivered[c];
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

    void flush_writes() {
        if (writing_ || pending_.empty() || phase_ == Phase::done) return;
        std::swap(inflight_, pending_);
        pending_.clear();
        writing_ = true;
        asio::async_write(stream_, asio::buffer(inflight_), [self = self()](error_code ec, std::size_t) {
            self->writing_ = false;
            self->inflight_.clear();
            if (ec || self->phase_ == Phase::done) return;
            if (self->phase_ == Phase::closing && self->server_closed_ && self->pending_.empty()) return self->finish();
            self->flush_writes();
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
        socket_of(stream_).close(ignored);
        if (was_open) --stats().open;
        fold_counts();
        worker_.on_connection_done(slot_, was_open);
    }

    Worker& worker_;
    RunContext& run_;
    std::size_t slot_, index_;
    Stream stream_;
    asio::steady_timer timer_;  // handshake timeout, then the slow reader's pace, then the close grace
    std::vector<char> buffer_;
    std::size_t filled_ = 0;
    std::string pending_, inflight_;  // one write in flight; the next gathers meanwhile
    std::string accept_;
    SeqTracker seq_;
    MessageAssembler assembler_;
    std::chrono::steady_clock::time_point next_read_{};
    std::int64_t started_ns_ = 0;
    Phase phase_ = Phase::connecting;
    const bool slow_;
    const std::uint32_t mask_key_;
    bool ready_ = false, reading_ = false, writing_ = false;
    bool close_sent_ = false, server_closed_ = false, closing_by_us_ = false;
    bool disconnect_counted_ = false, folded_ = false;
};

}  // namespace

std::shared_ptr<Connection> make_connection(Worker& worker, std::size_t slot, std::size_t index) {
    auto& run = worker.run_context();
    if (run.tls) return std::make_shared<ClientConnection<TlsStream>>(worker, slot, index, TlsStream(worker.io(), *run.tls));
    return std::make_shared<ClientConnection<Tcp::socket>>(worker, slot, index, Tcp::socket(worker.io()));
}

}  // namespace tickgate::load
