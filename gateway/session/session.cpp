#include "gateway/session/session.hpp"

#include <cstdio>
#include <random>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/dialect.hpp"
#include "gateway/session/replies.hpp"

namespace tickgate::gateway {
namespace {

std::string make_session_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
    return text;
}

}  // namespace

Session::Session(Worker& worker, PollingDirectory& polling, std::string peer, Wire wire, bool offers_websocket_upgrade)
    : Subscriber(worker.config().max_queue_bytes, wire), worker_(worker), polling_(polling), id_(make_session_id()),
      peer_(std::move(peer)),
      dialect_(wire == Wire::socketio ? make_socketio_dialect(*this, offers_websocket_upgrade) : make_v1_dialect(*this)),
      rate_(worker.config().client_rate, worker.now_ns()) {
    liveness_.last_activity_ns = liveness_.last_ping_ns = worker.now_ns();
    stats().sessions.add(1);
    if (wire == Wire::socketio) stats().socketio_sessions.add(1);
}

Session::~Session() {
    dialect_->on_close();
    stats().sessions.add(-1);
    if (wire() == Wire::socketio) stats().socketio_sessions.add(-1);
    stats().subscriptions.add(-static_cast<std::int64_t>(counted_subscriptions_));
}

bool Session::is_probe() const noexcept { return dialect_->is_probe(); }
const Config& Session::config() const noexcept { return worker_.config(); }
WorkerStats& Session::stats() noexcept { return worker_.stats(); }
std::int64_t Session::now() const { return worker_.now_ns(); }

void Session::on_open(std::string_view arg) { dialect_->on_open(arg); }

void Session::on_text(std::string_view text) {
    if (state_ != State::open) return;
    dialect_->on_text(text);
}

void Session::on_binary() {
    if (state_ != State::open) return;
    dialect_->on_binary();
}

bool Session::queue_text(std::string_view payload) {
    return queue_built([&](std::string& out) { frames::packet(payload, out); });
}

void Session::queue_stale_statuses() {
    for (const auto& status : worker_.current_stale_statuses(wire())) queue().push_control(status->bytes(), now());
}

bool Session::admit_client_message() {
    switch (rate_.take(now())) {
    case RateLimiter::Verdict::allowed: return true;
    case RateLimiter::Verdict::exceeded: close(1008, "rate limit exceeded", false); return false;
    case RateLimiter::Verdict::refused: break;
    }
    Replies::objects(*this, "").error(protocol::ErrorCode::rate_limited,
                                      "more than " + std::to_string(rate_.rate()) + " messages per second");
    return false;
}

void Session::sync_subscription_gauge() {
    const auto held = membership().entries.size();
    stats().subscriptions.add(static_cast<std::int64_t>(held) - static_cast<std::int64_t>(counted_subscriptions_));
    counted_subscriptions_ = held;
}

void Session::adopt(Session& from) {
    id_ = from.id_;
    dialect_->adopt_state(*from.dialect_);
    rate_ = from.rate_;
    worker_.registry().transfer(from, *this);
    std::swap(counted_subscriptions_, from.counted_subscriptions_);
    queue() = std::move(from.queue());
    from.queue().clear();
    note_activity();
}

void Session::close(std::uint16_t code, std::string_view reason, bool discard_backlog) {
    if (state_ != State::open) return;
    state_ = State::closing;
    dialect_->on_close();
    close_code_ = code;
    close_reason_.assign(reason);
    worker_.registry().remove(*this);
    sync_subscription_gauge();
    if (discard_backlog) queue().clear();
    auto push_close = [&](std::string& out) { frames::close(code, reason, out); };
    if (!queue_built(push_close)) {
        queue().clear();
        queue_built(push_close);
    }
    on_closing();
    flush();
}

void Session::close_malformed(std::string_view what) {
    stats().socketio_malformed.add();
    TG_LOG(info, "session %s %s: malformed Socket.IO packet (%.*s), closing", id_.c_str(), peer_.c_str(),
           static_cast<int>(what.size()), what.data());
    close(1002, "malformed packet", true);
}

void Session::on_peer_close(std::uint16_t code) {
    peer_closed_ = true;
    if (state_ == State::open) {
        // Echo the client's code, as RFC 6455 asks; 1005 means "no code" and must not be sent.
        close(code == 1005 ? 1000 : code, "", true);
    } else if (close_handshake_done()) {
        on_closing();
    }
}

void Session::on_delivered() {
    if (queue().overflowed())
        close(1008, "slow consumer", true);
    else
        flush();
}

void Session::on_status(const StatusFrames& status) {
    if (!is_open() || is_probe()) return;  // a probe carries only the probe
    queue().push_control(status.for_wire(wire())->bytes(), now());
    flush();
}

void Session::on_sweep(std::int64_t now_ns) {
    if (state_ != State::open) return;
    const auto& c = config();
    const LivenessPolicy policy{static_cast<std::int64_t>(c.heartbeat_ms) * 1'000'000,
                                static_cast<std::int64_t>(c.slow_timeout_ms) * 1'000'000,
                                dialect_->silent_heartbeats()};
    switch (policy.check(liveness_, now_ns, !is_probe())) {
    case SweepAction::none: return;
    case SweepAction::close_heartbeat_timeout:
        stats().heartbeat_timeouts.add();
        return close(1001, "heartbeat timeout", true);
    case SweepAction::close_slow_consumer:
        stats().slow_consumer_disconnects.add();
        return close(1008, "slow consumer", true);
    case SweepAction::ping:
        liveness_.last_ping_ns = now_ns;
        queue().push_control_built([&](std::string& out) { frames::heartbeat_ping(wire(), out); }, now_ns);
        flush();
        return;
    }
}

}  // namespace tickgate::gateway
