// The long-polling transport of a Socket.IO session: answers GETs with what the session queued,
// feeds POSTed packets to the protocol half (session.cpp), and hands the session to a WebSocket on
// upgrade. The session's queue holds the same pre-built WebSocket frames as every other session's;
// a GET response is their payloads joined with "\x1e".
//
// What a client can make it hold, and for how long:
// - sessions: each takes a place in --max-connections / --max-connections-per-ip, like a WebSocket;
// - bytes: the session's queue (--max-queue-bytes, conflated past half, closed past all), one
//   response in flight, and a POST body of at most maxPayload (= --max-message-bytes);
// - time: a GET is held at most until the next ping (--heartbeat-ms); a session that POSTs nothing
//   (no pong) for pingInterval + pingTimeout is closed, and a closing one is gone within kCloseGrace.
#include "gateway/polling_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unistd.h>
#include <vector>

#include "gateway/connection_slot.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/server.hpp"
#include "gateway/session.hpp"
#include "gateway/transport.hpp"
#include "gateway/worker.hpp"
#include "protocol/engineio.hpp"
#include "protocol/http_response.hpp"
#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
namespace eio = protocol::engineio;
using boost::system::error_code;

namespace {

// How long a closing session waits for a GET to carry its close packet.
constexpr std::chrono::milliseconds kCloseGrace{1000};
// Packets in one POST body; a client batches what it queued during one round trip.
constexpr std::size_t kMaxPacketsPerPost = 256;

class PollingSession;

/// sid -> owner worker and session, for every polling session of the process (a process runs one
/// Server). Any thread may ask for the owner; only the owner's thread adds, removes and uses the
/// session pointer, and it removes the entry before the session can be freed.
class PollingDirectory {
public:
    void add(const std::string& sid, Worker& owner, PollingSession* session) {
        std::lock_guard lock(mutex_);
        entries_[sid] = Entry{&owner, session};
    }
    void remove(const std::string& sid, const PollingSession* session) {
        std::lock_guard lock(mutex_);
        if (auto it = entries_.find(sid); it != entries_.end() && it->second.session == session) entries_.erase(it);
    }
    Worker* owner(std::string_view sid) const {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(sid);
        return it == entries_.end() ? nullptr : it->second.owner;
    }
    /// On `here`'s thread: the session, when `here` owns it.
    PollingSession* find_local(std::string_view sid, const Worker& here) const {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(sid);
        return it == entries_.end() || it->second.owner != &here ? nullptr : it->second.session;
    }

private:
    struct Entry {
        Worker* owner;
        PollingSession* session;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

PollingDirectory& directory() {
    static PollingDirectory instance;
    return instance;
}

bool origin_allowed(const Config& config, std::string_view origin) {
    return origin.empty() || config.allowed_origins.empty() ||
           std::find(config.allowed_origins.begin(), config.allowed_origins.end(), origin) !=
               config.allowed_origins.end();
}

/// Browsers read a cross-origin response only with these. socket.io-client sends credentials
/// (withCredentials) when asked to, so the origin is echoed rather than "*". Only called for
/// allowed origins.
std::string cors_headers(std::string_view origin) {
    if (origin.empty()) return {};
    std::string h = "Access-Control-Allow-Origin: ";
    h += origin;
    h += "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n";
    return h;
}

using protocol::http_response;

std::string ok_response(const PollingRequest& request, std::string_view body, bool keep_alive) {
    return http_response(200, "OK", "text/plain; charset=UTF-8", body, keep_alive, cors_headers(request.origin));
}

/// The error answer of engine.io's own server: a status and {"code":..,"message":..}; the
/// connection is closed after it.
std::string error_response(const PollingRequest& request, int status, std::string_view reason, eio::HttpError error,
                           bool with_cors = true) {
    std::string body;
    eio::encode_http_error(error, body);
    return http_response(status, reason, "application/json", body, false,
                         with_cors ? cors_headers(request.origin) : std::string());
}

/// Appends the payloads of the WebSocket frames in `frames` (server frames: unmasked, whole) to a
/// polling body. A close frame becomes the Engine.IO close packet; `closed` says one was seen.
void frames_to_payload(std::string_view frames, std::string& body, bool& closed) {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(frames[i])); };
    while (frames.size() >= 2) {
        const auto opcode = static_cast<protocol::Opcode>(byte(0) & 0x0f);
        std::uint64_t length = byte(1) & 0x7f;
        std::size_t header = 2;
        if (length == 126) {
            length = byte(2) << 8 | byte(3);
            header = 4;
        } else if (length == 127) {
            length = 0;
            for (std::size_t i = 2; i < 10; ++i) length = length << 8 | byte(i);
            header = 10;
        }
        const auto payload = frames.substr(header, length);
        if (opcode == protocol::Opcode::text) {
            eio::append_to_payload(payload, body);
        } else if (opcode == protocol::Opcode::close) {
            eio::append_to_payload(eio::kClose, body);
            closed = true;
        }
        frames.remove_prefix(std::min<std::size_t>(frames.size(), header + length));
    }
}

class PollingSession final : public SessionBase {
public:
    PollingSession(Worker& worker, ConnectionSlot slot, std::string peer)
        : SessionBase(worker, std::move(peer), Wire::socketio), slot_(std::move(slot)), close_timer_(worker.io()) {
        offer_upgrade_ = true;
    }

    /// The handshake GET is answered with the open packet.
    void start(PollingRequest request, PollingReply reply) {
        TG_LOG(info, "connect %s session %s (socket.io, polling)", peer().c_str(), id().c_str());
        directory().add(id(), worker_, this);
        on_open({});
        on_get(std::move(request), std::move(reply));
    }

    void on_get(PollingRequest request, PollingReply reply) {
        if (get_) {
            // Engine.IO: a second GET while one is held is a client error that ends the session;
            // the held GET carries the close packet.
            TG_LOG(info, "session %s %s: overlapping GET", id().c_str(), peer().c_str());
            reply.send(error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
            protocol_violation("overlapping GET");
            return;
        }
        get_.emplace(std::move(reply));
        get_origin_ = std::move(request.origin);
        get_keep_alive_ = request.keep_alive;
        flush();
    }

    void on_post(PollingRequest request, PollingReply reply) {
        if (state_ != State::open)
            return reply.send(error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
        note_activity();
        const auto max_payload = worker_.config().max_message_bytes;
        if (request.body.size() > max_payload) {
            // As engine.io does past maxHttpBufferSize: 413, and the session ends.
            reply.send(http_response(413, "Payload Too Large", "", "", false, cors_headers(request.origin)), false);
            close(1009, "message too big", true);
            return;
        }
        const eio::PayloadLimits limits{max_payload, kMaxPacketsPerPost};
        if (const auto error = eio::decode_payload(request.body, limits, packets_, binary_); error != eio::DecodeError::none) {
            reply.send(error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
            protocol_violation(eio::decode_error_name(error));
            return;
        }
        for (const eio::Packet& p : packets_) {
            if (state_ != State::open) break;
            if (p.binary)
                on_binary();
            else  // text packet data views into the body right after its type digit
                on_engineio_packet(std::string_view(p.data.data() - 1, p.data.size() + 1));
        }
        reply.send(ok_response(request, "ok", request.keep_alive), request.keep_alive);
        flush();
    }

    /// A held GET is answered as soon as there is something to send; during an upgrade at once
    /// (with a noop when nothing is queued), so the client's poll returns and it can switch.
    void flush() override {
        if (!get_ || finished_) return;
        if (queue.empty() && !upgrading_) return;
        answer_get();
    }

private:
    std::shared_ptr<PollingSession> shared_self() { return std::static_pointer_cast<PollingSession>(shared_from_this()); }

    void answer_get() {
        std::string frames;
        const auto taken = queue.take(frames);
        std::string body;
        bool closed = false;
        frames_to_payload(frames, body, closed);
        if (body.empty()) body = eio::kNoop;
        auto& stats = worker_.stats();
        stats.messages_sent.add(taken.messages);
        stats.socketio_messages_sent.add(taken.messages);
        stats.bytes_sent.add(body.size());
        if (taken.oldest_update_ts_ns != 0) stats.fanout_latency.observe_ns(now() - taken.oldest_update_ts_ns);
        PollingRequest origin_only;
        origin_only.origin = std::move(get_origin_);
        const bool keep_alive = get_keep_alive_ && !closed;
        PollingReply reply = std::move(*get_);
        get_.reset();
        reply.send(ok_response(origin_only, body, keep_alive), keep_alive);
        if (closed) finish();
    }

    void on_closing() override {
        // With a GET held, flush() (right after this) sends the close packet and finishes.
        if (get_) return;
        close_timer_.expires_after(kCloseGrace);
        close_timer_.async_wait([self = shared_self()](error_code ec) {
            if (!ec) self->finish();
        });
    }

    void on_probe_started() override {
        upgrading_ = true;
        flush();
    }

    void on_probe_ended() override {
        SessionBase::on_probe_ended();
        upgrading_ = false;
    }

    void on_taken_over() override {
        upgraded_ = true;
        flush();  // a GET still held gets its noop
        finish();
    }

    /// The last place the session is touched: it leaves the sid table and its worker.
    void finish() {
        if (finished_) return;
        finished_ = true;
        auto self = shared_self();  // detach() drops the worker's reference
        const bool was_open = state_ == State::open;
        mark_closed();
        close_timer_.cancel();
        directory().remove(id(), this);
        if (get_) {
            PollingRequest origin_only;
            origin_only.origin = std::move(get_origin_);
            PollingReply reply = std::move(*get_);
            get_.reset();
            std::string body(upgraded_ ? eio::kNoop : eio::kClose);
            reply.send(ok_response(origin_only, body, false), false);
        }
        if (upgraded_)
            TG_LOG(info, "session %s %s: polling transport ended by the upgrade", id().c_str(), peer().c_str());
        else
            TG_LOG(info, "disconnect %s session %s code %u%s%s (polling)", peer().c_str(), id().c_str(),
                   was_open ? 1006 : close_code_, close_reason_.empty() ? "" : " reason ", close_reason_.c_str());
        worker_.detach(*this);
    }

    ConnectionSlot slot_;
    asio::steady_timer close_timer_;
    std::optional<PollingReply> get_;  // the GET being held, at most one
    std::string get_origin_;
    bool get_keep_alive_ = true;
    bool upgrading_ = false;  // a probe answered "3probe": GETs are not held
    bool upgraded_ = false;
    bool finished_ = false;
    std::vector<eio::Packet> packets_;  // reused by every POST
    std::string binary_;
};

std::string preflight_response(const PollingRequest& request) {
    std::string headers = cors_headers(request.origin);
    headers += "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n";
    if (!request.request_headers.empty()) headers += "Access-Control-Allow-Headers: " + request.request_headers + "\r\n";
    headers += "Access-Control-Max-Age: 86400\r\n";
    return http_response(204, "No Content", "", "", request.keep_alive, headers);
}

void open_session(Worker& here, Server& server, PollingRequest request, PollingReply reply) {
    if (request.method != PollingRequest::Method::get)
        return reply.send(error_response(request, 400, "Bad Request", eio::HttpError::bad_handshake_method), false);
    if (server.draining() || here.draining()) {
        server.count_connection(ConnectionResult::rejected_limit);
        return reply.send(http_response(503, "Service Unavailable", "application/json", "{\"error\":\"shutting down\"}\n",
                                        false, cors_headers(request.origin)),
                          false);
    }
    // The session outlives the connection that opened it, so it holds a place of its own.
    ConnectionSlot slot(server.limits(), request.ip);
    if (!slot.admitted()) {
        server.count_connection(ConnectionResult::rejected_limit);
        return reply.send(http_response(503, "Service Unavailable", "application/json",
                                        "{\"error\":\"connection limit reached\"}\n", false,
                                        "Retry-After: 1\r\n" + cors_headers(request.origin)),
                          false);
    }
    auto session = std::make_shared<PollingSession>(here, std::move(slot), request.peer);
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

void PollingReply::send(std::string response, bool keep_alive) {
    if (!deliver_) return;
    asio::post(*home_, [deliver = std::move(deliver_), response = std::move(response), keep_alive]() mutable {
        deliver(std::move(response), keep_alive);
    });
    deliver_ = nullptr;
}

void serve_polling_request(Worker& here, Server& server, PollingRequest request, PollingReply reply) {
    if (!origin_allowed(server.config(), request.origin)) {
        server.count_connection(ConnectionResult::rejected_origin);
        TG_LOG(info, "connection %s: Origin %s not allowed", request.peer.c_str(), request.origin.c_str());
        return reply.send(error_response(request, 403, "Forbidden", eio::HttpError::forbidden, false), false);
    }
    if (request.method == PollingRequest::Method::options) return reply.send(preflight_response(request), request.keep_alive);
    if (request.sid.empty()) return open_session(here, server, std::move(request), std::move(reply));
    Worker* owner = directory().owner(request.sid);
    if (!owner) return reply.send(error_response(request, 400, "Bad Request", eio::HttpError::unknown_sid), false);
    asio::post(owner->io(), [owner, request = std::move(request), reply = std::move(reply)]() mutable {
        PollingSession* found = directory().find_local(request.sid, *owner);
        if (!found) return reply.send(error_response(request, 400, "Bad Request", eio::HttpError::unknown_sid), false);
        // A request can end the session (a close packet, a malformed body): keep it alive until the
        // handler returns.
        const auto session = std::static_pointer_cast<PollingSession>(found->shared_from_this());
        if (request.method == PollingRequest::Method::get) return session->on_get(std::move(request), std::move(reply));
        if (request.method == PollingRequest::Method::post) return session->on_post(std::move(request), std::move(reply));
        reply.send(error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
    });
}

bool polling_session_exists(std::string_view sid) { return directory().owner(sid) != nullptr; }

std::shared_ptr<SessionBase> find_polling_session(Worker& worker, std::string_view sid) {
    PollingSession* session = directory().find_local(sid, worker);
    return session ? session->shared_from_this() : nullptr;
}

template <class Stream>
void continue_polling_upgrade(Worker& here, Stream stream, std::shared_ptr<asio::ssl::context> tls,
                              ConnectionSlot slot, std::string peer, std::string leftover, std::string sid) {
    Worker* owner = directory().owner(sid);
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
    // The sid travels in the subscribe-list argument: for Socket.IO it names the session to upgrade.
    asio::post(owner->io(), [owner, stream = std::move(stream), tls = std::move(tls), slot = std::move(slot),
                             peer = std::move(peer), leftover = std::move(leftover), sid = std::move(sid)]() mutable {
        start_websocket_session(*owner, std::move(stream), std::move(tls), std::move(slot), std::move(peer),
                                std::move(leftover), std::move(sid), Wire::socketio);
    });
}

template void continue_polling_upgrade<TlsStream>(Worker&, TlsStream, std::shared_ptr<asio::ssl::context>,
                                                  ConnectionSlot, std::string, std::string, std::string);
template void continue_polling_upgrade<TcpSocket>(Worker&, TcpSocket, std::shared_ptr<asio::ssl::context>,
                                                  ConnectionSlot, std::string, std::string, std::string);

}  // namespace tickgate::gateway
