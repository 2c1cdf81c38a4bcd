// The long-polling transport of a Socket.IO session: answers GETs with what the session queued,
// feeds POSTed packets to the session (and its Socket.IO dialect), and hands the session to a
// WebSocket on upgrade. The session's queue holds the same pre-built WebSocket frames as every
// other session's; a GET response is their payloads joined with "\x1e" (frames::to_polling_payload).
#include "gateway/session/polling_session.hpp"

#include <boost/asio/post.hpp>

#include <chrono>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/polling_directory.hpp"
#include "protocol/http_response.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
namespace eio = protocol::engineio;
using boost::system::error_code;
using protocol::cors_headers;
using protocol::http_response;

namespace {

// How long a closing session waits for a GET to carry its close packet.
constexpr std::chrono::milliseconds kCloseGrace{1000};
// Packets in one POST body; a client batches what it queued during one round trip.
constexpr std::size_t kMaxPacketsPerPost = 256;

std::string ok_response(std::string_view origin, std::string_view body, bool keep_alive) {
    return http_response(200, "OK", "text/plain; charset=UTF-8", body, keep_alive, cors_headers(origin));
}

}  // namespace

void PollingReply::send(std::string response, bool keep_alive) {
    if (!deliver_) return;
    asio::post(*home_, [deliver = std::move(deliver_), response = std::move(response), keep_alive]() mutable {
        deliver(std::move(response), keep_alive);
    });
    deliver_ = nullptr;
}

std::string polling_error_response(const PollingRequest& request, int status, std::string_view reason,
                                   eio::HttpError error, bool with_cors) {
    std::string body;
    eio::encode_http_error(error, body);
    return http_response(status, reason, "application/json", body, false,
                         with_cors ? cors_headers(request.origin) : std::string());
}

PollingSession::PollingSession(Worker& worker, PollingDirectory& polling, ConnectionSlot slot, std::string peer)
    : Session(worker, polling, std::move(peer), Wire::socketio, /*offers_websocket_upgrade=*/true),
      slot_(std::move(slot)), close_timer_(worker.io()) {}

std::shared_ptr<PollingSession> PollingSession::shared_self() {
    return std::static_pointer_cast<PollingSession>(shared_from_this());
}

void PollingSession::start(PollingRequest request, PollingReply reply) {
    TG_LOG(info, "connect %s session %s (socket.io, polling)", peer().c_str(), id().c_str());
    polling_directory().add(id(), worker(), this);
    on_open({});
    on_get(std::move(request), std::move(reply));
}

void PollingSession::on_get(PollingRequest request, PollingReply reply) {
    if (get_) {
        // Engine.IO: a second GET while one is held is a client error that ends the session;
        // the held GET carries the close packet.
        TG_LOG(info, "session %s %s: overlapping GET", id().c_str(), peer().c_str());
        reply.send(polling_error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
        close_malformed("overlapping GET");
        return;
    }
    get_.emplace(std::move(reply));
    get_origin_ = std::move(request.origin);
    get_keep_alive_ = request.keep_alive;
    flush();
}

void PollingSession::on_post(PollingRequest request, PollingReply reply) {
    if (state_ != State::open)
        return reply.send(polling_error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
    note_activity();
    const auto max_payload = config().max_message_bytes;
    if (request.body.size() > max_payload) {
        // As engine.io does past maxHttpBufferSize: 413, and the session ends.
        reply.send(http_response(413, "Payload Too Large", "", "", false, cors_headers(request.origin)), false);
        close(1009, "message too big", true);
        return;
    }
    const eio::PayloadLimits limits{max_payload, kMaxPacketsPerPost};
    if (const auto error = eio::decode_payload(request.body, limits, packets_, binary_); error != eio::DecodeError::none) {
        reply.send(polling_error_response(request, 400, "Bad Request", eio::HttpError::bad_request), false);
        close_malformed(eio::decode_error_name(error));
        return;
    }
    for (const eio::Packet& p : packets_) {
        if (state_ != State::open) break;
        if (p.binary)
            on_binary();
        else  // text packet data views into the body right after its type digit
            on_text(std::string_view(p.data.data() - 1, p.data.size() + 1));
    }
    reply.send(ok_response(request.origin, "ok", request.keep_alive), request.keep_alive);
    flush();
}

void PollingSession::flush() {
    if (!get_ || finished_) return;
    if (queue().empty() && !upgrading_) return;
    answer_get();
}

void PollingSession::answer_get() {
    std::string queued;
    const auto taken = queue().take(queued);
    std::string body;
    bool closed = false;
    frames::to_polling_payload(queued, body, closed);
    if (body.empty()) body = eio::kNoop;
    auto& stats = this->stats();
    stats.messages_sent.add(taken.messages);
    stats.socketio_messages_sent.add(taken.messages);
    stats.bytes_sent.add(body.size());
    if (taken.oldest_update_ts_ns != 0) stats.fanout_latency.observe_ns(now() - taken.oldest_update_ts_ns);
    const std::string origin = std::move(get_origin_);
    const bool keep_alive = get_keep_alive_ && !closed;
    PollingReply reply = std::move(*get_);
    get_.reset();
    reply.send(ok_response(origin, body, keep_alive), keep_alive);
    if (closed) finish();
}

void PollingSession::on_closing() {
    // With a GET held, flush() (right after this) sends the close packet and finishes.
    if (get_) return;
    close_timer_.expires_after(kCloseGrace);
    close_timer_.async_wait([self = shared_self()](error_code ec) {
        if (!ec) self->finish();
    });
}

bool PollingSession::claim_upgrade() {
    if (!is_open() || upgrade_claimed_) return false;
    upgrade_claimed_ = true;
    return true;
}

void PollingSession::on_probe_started() {
    upgrading_ = true;
    flush();
}

void PollingSession::on_probe_ended() {
    upgrade_claimed_ = false;
    upgrading_ = false;
}

void PollingSession::on_taken_over() {
    upgraded_ = true;
    flush();  // a GET still held gets its noop
    finish();
}

void PollingSession::finish() {
    if (finished_) return;
    finished_ = true;
    auto self = shared_self();  // detach() drops the worker's reference
    const bool was_open = state_ == State::open;
    mark_closed();
    close_timer_.cancel();
    polling_directory().remove(id(), this);
    if (get_) {
        PollingReply reply = std::move(*get_);
        get_.reset();
        std::string body(upgraded_ ? eio::kNoop : eio::kClose);
        reply.send(ok_response(get_origin_, body, false), false);
    }
    if (upgraded_)
        TG_LOG(info, "session %s %s: polling transport ended by the upgrade", id().c_str(), peer().c_str());
    else
        TG_LOG(info, "disconnect %s session %s code %u%s%s (polling)", peer().c_str(), id().c_str(),
               was_open ? 1006 : close_code_, close_reason_.empty() ? "" : " reason ", close_reason_.c_str());
    worker().detach(*this);
}

}  // namespace tickgate::gateway
