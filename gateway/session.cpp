#include "gateway/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "gateway/frame.hpp"
#include "gateway/log.hpp"
#include "gateway/worker.hpp"
#include "protocol/messages.hpp"
#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway {
namespace {

std::string make_session_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
    return text;
}

std::vector<std::string> split_subscribe_list(std::string_view list) {
    std::vector<std::string> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto part = list.substr(0, comma);
        if (!part.empty()) out.emplace_back(part);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

SessionBase::SessionBase(Worker& worker, std::string peer)
    : Subscriber(worker.config().max_queue_bytes), worker_(worker), id_(make_session_id()), peer_(std::move(peer)) {
    const auto t = now();
    last_activity_ns_ = t;
    last_ping_ns_ = t;
    rate_refilled_ns_ = t;
    rate_tokens_ = 2.0 * worker_.config().client_rate;
    worker_.stats().sessions.add(1);
}

SessionBase::~SessionBase() {
    worker_.stats().sessions.add(-1);
    worker_.stats().subscriptions.add(-static_cast<std::int64_t>(counted_subscriptions_));
}

std::int64_t SessionBase::now() const { return worker_.now_ns(); }

void SessionBase::on_open(std::string_view subscribe_list) {
    const auto t = now();
    queue.push_control_built(
        [&](std::string& out) {
            append_text_frame(out, [&](std::string& o) {
                protocol::encode_welcome(id_, TICKGATE_VERSION, worker_.config().heartbeat_ms, o);
            });
        },
        t);
    for (const auto& status : worker_.current_stale_statuses()) queue.push_control(status->bytes(), t);
    if (!subscribe_list.empty()) subscribe("", split_subscribe_list(subscribe_list));
}

void SessionBase::on_text(std::string_view text) {
    if (state_ != State::open) return;
    if (!take_rate_token(now())) return;
    auto parsed = protocol::parse_request(text);
    if (auto* error = std::get_if<protocol::RequestError>(&parsed)) {
        send_error(error->id_json, error->code, error->message);
        return;
    }
    handle(std::get<protocol::Request>(parsed));
}

void SessionBase::on_binary() {
    if (state_ != State::open) return;
    if (!take_rate_token(now())) return;
    send_error("", protocol::ErrorCode::bad_request, "binary frames are not supported; send JSON text frames");
}

bool SessionBase::take_rate_token(std::int64_t now_ns) {
    const double rate = worker_.config().client_rate;
    rate_tokens_ = std::min(2.0 * rate, rate_tokens_ + static_cast<double>(now_ns - rate_refilled_ns_) * rate * 1e-9);
    rate_refilled_ns_ = now_ns;
    if (rate_tokens_ >= 1.0) {
        rate_tokens_ -= 1.0;
        rate_strikes_ = 0;
        return true;
    }
    // One more second's worth of messages past the limit and the client is not listening: close.
    if (++rate_strikes_ > worker_.config().client_rate) {
        close(1008, "rate limit exceeded", false);
        return false;
    }
    send_error("", protocol::ErrorCode::rate_limited,
               "more than " + std::to_string(worker_.config().client_rate) + " messages per second");
    return false;
}

void SessionBase::handle(const protocol::Request& request) {
    switch (request.op) {
    case protocol::Op::subscribe: subscribe(request.id_json, request.topics); break;
    case protocol::Op::unsubscribe: unsubscribe(request.id_json, request.topics); break;
    case protocol::Op::list: {
        const auto names = worker_.registry().topic_names();
        queue.push_control_built(
            [&](std::string& out) {
                append_text_frame(out, [&](std::string& o) { protocol::encode_topic_list(request.id_json, names, o); });
            },
            now());
        break;
    }
    case protocol::Op::ping: {
        const auto ts = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        queue.push_control_built(
            [&](std::string& out) {
                append_text_frame(out, [&](std::string& o) { protocol::encode_pong(request.id_json, ts, o); });
            },
            now());
        break;
    }
    }
}

void SessionBase::subscribe(const std::string& id_json, const std::vector<std::string>& entries) {
    auto& registry = worker_.registry();
    auto outcome = registry.subscribe(*this, entries, worker_.config().max_subscriptions);
    update_subscription_gauge();
    if (!outcome.malformed.empty())
        send_error(id_json, protocol::ErrorCode::bad_request,
                   "not a topic (channel.SYMBOL-QUOTE) or pattern (* for a segment)", outcome.malformed);
    if (!outcome.unknown.empty())
        send_error(id_json, protocol::ErrorCode::unknown_topic, "no feed publishes this topic; see op list",
                   outcome.unknown);
    if (!outcome.over_limit.empty())
        send_error(id_json, protocol::ErrorCode::too_many_subscriptions,
                   "at most " + std::to_string(worker_.config().max_subscriptions) + " subscriptions per connection",
                   outcome.over_limit);
    // Entries already held are accepted no-ops: they get an ack (listing only what was added) so a
    // client waiting on its request id always hears back; a request with nothing valid gets none.
    if (outcome.added.empty() && outcome.already_held.empty()) return;
    const auto t = now();
    queue.push_control_built(
        [&](std::string& out) {
            append_text_frame(out, [&](std::string& o) {
                protocol::encode_topic_ack("subscribed", id_json, outcome.added, o);
            });
        },
        t);
    // Snapshots after the ack; they sit in the ordered part of the queue, ahead of any later live update.
    for (std::uint32_t topic_id : outcome.newly_covered) {
        const TopicState& topic = registry.topic(topic_id);
        if (!topic.has_value) continue;
        const bool queued = queue.push_control_built(
            [&](std::string& out) {
                append_text_frame(out, [&](std::string& o) { protocol::encode_update(topic.latest, true, o); });
            },
            t);
        if (!queued) {
            overflowed = true;
            break;
        }
    }
    if (overflowed) close(1008, "slow consumer", true);
}

void SessionBase::unsubscribe(const std::string& id_json, const std::vector<std::string>& entries) {
    auto outcome = worker_.registry().unsubscribe(*this, entries);
    update_subscription_gauge();
    if (!outcome.malformed.empty())
        send_error(id_json, protocol::ErrorCode::bad_request,
                   "not a topic (channel.SYMBOL-QUOTE) or pattern (* for a segment)", outcome.malformed);
    queue.push_control_built(
        [&](std::string& out) {
            append_text_frame(out, [&](std::string& o) {
                protocol::encode_topic_ack("unsubscribed", id_json, outcome.removed, o);
            });
        },
        now());
}

void SessionBase::send_error(std::string_view id_json, protocol::ErrorCode code, std::string_view message,
                             const std::vector<std::string>& topics) {
    worker_.stats().client_error(code);
    TG_LOG(debug, "session %s %s: %s error: %.*s", id_.c_str(), peer_.c_str(),
           std::string(protocol::error_code_name(code)).c_str(), static_cast<int>(message.size()), message.data());
    queue.push_control_built(
        [&](std::string& out) {
            append_text_frame(out, [&](std::string& o) { protocol::encode_error(id_json, code, message, topics, o); });
        },
        now());
}

void SessionBase::update_subscription_gauge() {
    const auto held = entries.size();
    worker_.stats().subscriptions.add(static_cast<std::int64_t>(held) - static_cast<std::int64_t>(counted_subscriptions_));
    counted_subscriptions_ = held;
}

void SessionBase::close(std::uint16_t code, std::string_view reason, bool discard_backlog) {
    if (state_ != State::open) return;
    state_ = State::closing;
    close_code_ = code;
    close_reason_.assign(reason);
    worker_.registry().remove(*this);
    update_subscription_gauge();
    if (discard_backlog) queue.clear();
    const auto t = now();
    auto push_close = [&](std::string& out) { protocol::append_close_frame(out, code, reason); };
    if (!queue.push_control_built(push_close, t)) {
        queue.clear();
        queue.push_control_built(push_close, t);
    }
    on_closing();
    flush();
}

void SessionBase::on_peer_close(std::uint16_t code) {
    peer_closed_ = true;
    if (state_ == State::open) {
        // Echo the client's code, as RFC 6455 asks; 1005 means "no code" and must not be sent.
        close(code == 1005 ? 1000 : code, "", true);
    } else if (close_handshake_done()) {
        on_closing();
    }
}

void SessionBase::on_sweep(std::int64_t now_ns) {
    if (state_ != State::open) return;
    const auto& c = worker_.config();
    const std::int64_t heartbeat_ns = static_cast<std::int64_t>(c.heartbeat_ms) * 1'000'000;
    if (now_ns - last_activity_ns_ >= 3 * heartbeat_ns) {
        worker_.stats().heartbeat_timeouts.add();
        close(1001, "heartbeat timeout", true);
        return;
    }
    if (write_in_flight_ &&
        now_ns - inflight_queued_since_ns_ > static_cast<std::int64_t>(c.slow_timeout_ms) * 1'000'000) {
        worker_.stats().slow_consumer_disconnects.add();
        close(1008, "slow consumer", true);
        return;
    }
    if (now_ns - last_ping_ns_ >= heartbeat_ns) {
        last_ping_ns_ = now_ns;
        queue.push_control_built([](std::string& out) { protocol::append_frame(out, protocol::Opcode::ping, ""); },
                                 now_ns);
        flush();
    }
}

}  // namespace tickgate::gateway
