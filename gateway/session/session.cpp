#include "gateway/session/session.hpp"

#include <cstdio>
#include <random>

#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "feeds/runtime/log.hpp"
#include "protocol/auth_messages.hpp"
#include "protocol/socketio.hpp"
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
      rate_(worker.config().client_rate, worker.now_ns()), long_polling_(offers_websocket_upgrade) {
    liveness_.last_activity_ns = liveness_.last_ping_ns = opened_ns_ = worker.now_ns();
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

void Session::begin_write(std::int64_t queued_since_ns) noexcept {
    write_started_ns_ = now();
    liveness_.write_in_flight = true;
    liveness_.inflight_queued_since_ns = queued_since_ns;
    if (queued_since_ns != 0) stats().stage(LatencyStage::queue).observe_ns(write_started_ns_ - queued_since_ns);
}

std::int64_t Session::end_write(std::int64_t ended_ns) noexcept {
    const std::int64_t t = ended_ns ? ended_ns : now();
    liveness_.write_in_flight = false;
    stats().stage(LatencyStage::write).observe_ns(t - write_started_ns_);
    return t;
}

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
    access_ = from.access_;
    publisher_ = from.publisher_;
    identity_ = std::move(from.identity_);
    from.identity_.reset();
    opened_ns_ = from.opened_ns_;
    expiring_sent_ = from.expiring_sent_;
    queue() = std::move(from.queue());
    from.queue().clear();
    note_activity();
}

void Session::close(std::uint16_t code, std::string_view reason, bool discard_backlog) {
    if (state_ != State::open) return;
    state_ = State::closing;
    dialect_->on_close();
    dialect_->on_end(code);
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

void Session::mark_closed() {
    if (state_ == State::open) dialect_->on_end(1006);
    state_ = State::closed;
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
    // Counted here rather than beside the trades in the worker's flush pass: this is the hook that
    // pass calls for every subscriber it flushes.
    stats().published_dropped_slow.add(queue().take_dropped_published_count());
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
    if (access_controlled() && !is_probe() && !check_access(now_ns)) return;
    const auto& c = config();
    const LivenessPolicy policy{static_cast<std::int64_t>(c.heartbeat_ms) * 1'000'000,
                                static_cast<std::int64_t>(c.slow_timeout_ms) * 1'000'000,
                                dialect_->silent_heartbeats()};
    LivenessState liveness = liveness_;
    if (const std::int64_t since = backlog_waiting_since_ns(); since != 0 && !liveness.write_in_flight) {
        liveness.write_in_flight = true;
        liveness.inflight_queued_since_ns = since;
    }
    switch (policy.check(liveness, now_ns, !is_probe())) {
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

std::string Session::publisher_name() const {
    // Tokens never carry such a sub (token_verifier.cpp refuses anon:* and admin), so no client
    // can pose as another one, or as the operator.
    return identity_ ? identity_->claims.sub : "anon:" + id_;
}

bool Session::on_announcement(const StatusFrames& frames) {
    if (!is_open() || is_probe()) return false;  // a probe carries only the probe
    if (!queue().push_shared(frames.for_wire(wire()), now())) {
        queue().mark_overflowed();
        on_delivered();  // closes it as a slow consumer
        return false;
    }
    flush();
    return true;
}

bool Session::describe(SessionInfo& out) const {
    if (!is_open() || is_probe()) return false;
    out.id = id_;
    out.user = identity_ ? std::optional<std::string>(identity_->claims.sub) : std::nullopt;
    out.peer = peer_;
    out.wire = wire();
    out.polling = long_polling_;
    out.subscriptions = membership().entries.size();
    out.connected_since_ns = opened_ns_;
    return true;
}

void Session::on_operator_close(std::uint16_t code, std::string_view reason) {
    if (!is_open()) return;
    TG_LOG(info, "session %s %s: closed by the operator (%u %.*s)", id_.c_str(), peer_.c_str(),
           static_cast<unsigned>(code), static_cast<int>(reason.size()), reason.data());
    if (wire() == Wire::socketio) {
        std::string disconnect;
        protocol::socketio::encode_disconnect(protocol::socketio::kDefaultNamespace, disconnect);
        queue_text(disconnect);
    }
    close(code, reason, false);
}

void Session::set_access_control(auth::AccessControl* access, std::optional<auth::Identity> identity) {
    access_ = access;
    identity_ = std::move(identity);
}

const protocol::Entitlement* Session::entitlement() const noexcept {
    if (!access_controlled()) return nullptr;
    return identity_ ? &identity_->entitlement : &access_->anonymous();
}

bool Session::check_access(std::int64_t now_ns) {
    if (!identity_) {
        if (access_->has_anonymous_topics()) return true;
        if (now_ns - opened_ns_ < static_cast<std::int64_t>(access_->auth_timeout_ms()) * 1'000'000) return true;
        TG_LOG(info, "session %s %s: no token within %u ms", id_.c_str(), peer_.c_str(), access_->auth_timeout_ms());
        close(4001, "authentication required", false);
        return false;
    }
    // exp is wall-clock time; the worker's clock is not.
    const auto wall_ns = runtime::realtime_ns();
    const auto expires_at = identity_->expires_at_ns();
    if (wall_ns >= expires_at) {
        TG_LOG(info, "session %s %s: token of %s expired", id_.c_str(), peer_.c_str(), identity_->claims.sub.c_str());
        if (wire() == Wire::socketio) {
            std::string disconnect;
            protocol::socketio::encode_disconnect(protocol::socketio::kDefaultNamespace, disconnect);
            queue_text(disconnect);
        }
        close(4003, "token expired", false);
        return false;
    }
    if (!expiring_sent_ && wall_ns >= expires_at - 30'000'000'000) {
        expiring_sent_ = true;
        std::string json;
        protocol::encode_token_expiring(expires_at, json);
        queue_built([&](std::string& out) { frames::message(wire(), "token_expiring", json, out); });
        flush();
    }
    return true;
}

void Session::take_identity(auth::Identity identity) {
    identity_ = std::move(identity);
    expiring_sent_ = false;
    drop_forbidden_entries();
}

void Session::drop_forbidden_entries() {
    const auto* allowed = entitlement();
    if (!allowed || allowed->allows_everything()) return;
    std::vector<std::string> forbidden;
    for (const auto& entry : membership().entries)
        if (!allowed->allows(entry)) forbidden.push_back(entry);
    if (forbidden.empty()) return;
    auto outcome = worker_.registry().unsubscribe(*this, forbidden);
    sync_subscription_gauge();
    Replies::objects(*this, "").topics_changed("unsubscribed", outcome.removed, true);
}

void Session::authenticate(std::string_view token, Replies& replies) {
    if (!access_controlled()) {
        replies.error(protocol::ErrorCode::bad_request, "this gateway has no access control: no token is needed");
        return replies.rejected();
    }
    if (identity_) return refresh(token, replies);
    if (token.size() > auth::kMaxTokenBytes) return close(1009, "token too big", true);
    auto verified = access_->verify(token);
    if (auto* error = std::get_if<auth::TokenError>(&verified)) {
        replies.error(protocol::ErrorCode::invalid_token, auth::token_error_message(*error));
        replies.rejected();
        return close(4001, "invalid token", false);
    }
    auto identity = access_->identify(std::move(std::get<auth::TokenClaims>(verified)));
    if (!identity.slot.admitted()) {
        TG_LOG(info, "session %s %s: %s is at --max-connections-per-user", id_.c_str(), peer_.c_str(),
               identity.claims.sub.c_str());
        return close(4008, "too many connections", false);
    }
    TG_LOG(info, "session %s %s: authenticated as %s", id_.c_str(), peer_.c_str(), identity.claims.sub.c_str());
    take_identity(std::move(identity));
    replies.authenticated(identity_->claims.sub, identity_->expires_at_ns());
}

void Session::refresh(std::string_view token, Replies& replies) {
    if (!access_controlled() || !identity_) return authenticate(token, replies);
    if (token.size() > auth::kMaxTokenBytes) return close(1009, "token too big", true);
    auto verified = access_->verify(token);
    if (auto* error = std::get_if<auth::TokenError>(&verified)) {
        // The session keeps its current token until that expires.
        replies.error(protocol::ErrorCode::invalid_token, auth::token_error_message(*error));
        return replies.rejected();
    }
    auto& claims = std::get<auth::TokenClaims>(verified);
    if (claims.sub != identity_->claims.sub) {
        replies.error(protocol::ErrorCode::forbidden, "a refresh token must be for the same sub");
        return replies.rejected();
    }
    auth::Identity renewed;
    renewed.slot = std::move(identity_->slot);  // same user: the same place in the per-user count
    renewed.entitlement = claims.topics ? protocol::Entitlement::only(*claims.topics) : protocol::Entitlement::everything();
    renewed.claims = std::move(claims);
    take_identity(std::move(renewed));
    replies.authenticated(identity_->claims.sub, identity_->expires_at_ns());
}

Session::ConnectVerdict Session::connect_with_token(const std::optional<std::string>& token) {
    if (!access_controlled()) return ConnectVerdict::accepted;
    if (!token) return identity_ || access_->has_anonymous_topics() ? ConnectVerdict::accepted : ConnectVerdict::invalid_token;
    if (token->size() > auth::kMaxTokenBytes) return ConnectVerdict::invalid_token;
    auto verified = access_->verify(*token);
    if (!std::holds_alternative<auth::TokenClaims>(verified)) return ConnectVerdict::invalid_token;
    auto& claims = std::get<auth::TokenClaims>(verified);
    if (identity_ && claims.sub != identity_->claims.sub) return ConnectVerdict::invalid_token;
    auto identity = identity_ ? auth::Identity{} : access_->identify(std::move(claims));
    if (identity_) {
        identity.slot = std::move(identity_->slot);
        identity.entitlement = claims.topics ? protocol::Entitlement::only(*claims.topics) : protocol::Entitlement::everything();
        identity.claims = std::move(claims);
    }
    if (!identity.slot.admitted()) return ConnectVerdict::too_many_connections;
    TG_LOG(info, "session %s %s: authenticated as %s", id_.c_str(), peer_.c_str(), identity.claims.sub.c_str());
    take_identity(std::move(identity));
    return ConnectVerdict::accepted;
}

}  // namespace tickgate::gateway
