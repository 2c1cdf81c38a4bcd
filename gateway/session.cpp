#include "gateway/session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "gateway/frame.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/polling_session.hpp"
#include "gateway/worker.hpp"
#include "protocol/messages.hpp"
#include "protocol/engineio.hpp"
#include "protocol/socketio.hpp"
#include "protocol/socketio_events.hpp"
#include "protocol/topic.hpp"
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

SessionBase::SessionBase(Worker& worker, std::string peer, Wire wire)
    : Subscriber(worker.config().max_queue_bytes), worker_(worker), id_(make_session_id()), peer_(std::move(peer)),
      wire_(wire) {
    socketio = wire == Wire::socketio;
    const auto t = now();
    last_activity_ns_ = t;
    last_ping_ns_ = t;
    rate_refilled_ns_ = t;
    rate_tokens_ = 2.0 * worker_.config().client_rate;
    worker_.stats().sessions.add(1);
    if (socketio) worker_.stats().socketio_sessions.add(1);
}

SessionBase::~SessionBase() {
    abandon_probe();
    worker_.stats().sessions.add(-1);
    if (socketio) worker_.stats().socketio_sessions.add(-1);
    worker_.stats().subscriptions.add(-static_cast<std::int64_t>(counted_subscriptions_));
}

std::int64_t SessionBase::now() const { return worker_.now_ns(); }

void SessionBase::on_open(std::string_view subscribe_list) {
    if (wire_ == Wire::socketio) {
        if (!subscribe_list.empty()) return begin_probe(subscribe_list);
        // Engine.IO handshake; the Socket.IO welcome follows the client's CONNECT.
        std::string open;
        protocol::engineio::OpenInfo info;
        info.sid = id_;
        info.offer_websocket_upgrade = offer_upgrade_;
        info.ping_interval_ms = worker_.config().heartbeat_ms;
        info.ping_timeout_ms = worker_.config().heartbeat_ms;
        info.max_payload = worker_.config().max_message_bytes;
        protocol::engineio::encode_open(info, open);
        push_payload(open);
        return;
    }
    send_welcome();
    if (!subscribe_list.empty()) subscribe("", split_subscribe_list(subscribe_list));
}

void SessionBase::begin_probe(std::string_view polling_sid) {
    auto polling = find_polling_session(worker_, polling_sid);
    // One probe per session: a second WebSocket for the same sid is refused like an unknown one.
    if (!polling || !polling->is_open() || polling->upgrade_claimed_) {
        close(1008, "Session ID unknown", true);
        return;
    }
    probing_ = true;
    polling->upgrade_claimed_ = true;
    upgrading_from_ = polling;
}

void SessionBase::abandon_probe() {
    if (!probing_) return;
    probing_ = false;
    // The client keeps polling when a probe fails; the polling session holds GETs again.
    if (auto polling = upgrading_from_.lock()) polling->on_probe_ended();
    upgrading_from_.reset();
}

void SessionBase::on_probe_ended() { upgrade_claimed_ = false; }

void SessionBase::take_over(SessionBase& from) {
    // "5" before "3probe" could have been read by the client: it did not follow the handshake.
    if (!queue.empty()) return protocol_violation("upgrade before the probe was answered");
    probing_ = false;
    upgrading_from_.reset();
    from.upgrade_claimed_ = false;
    id_ = from.id_;
    socketio_connected_ = from.socketio_connected_;
    rate_tokens_ = from.rate_tokens_;
    rate_refilled_ns_ = from.rate_refilled_ns_;
    rate_strikes_ = from.rate_strikes_;
    // Same worker, same point in the update stream: the registry keeps the session's places in the
    // topics' subscriber lists and only the pointer changes, so no update is missed or repeated.
    worker_.registry().transfer(from, *this);
    std::swap(counted_subscriptions_, from.counted_subscriptions_);
    queue = std::move(from.queue);
    from.queue.clear();
    overflowed = std::exchange(from.overflowed, false);
    note_activity();
    TG_LOG(info, "session %s %s: upgraded from polling to websocket", id_.c_str(), peer_.c_str());
    from.on_taken_over();
    flush();
}

void SessionBase::send_welcome() {
    std::string json;
    protocol::encode_welcome(id_, TICKGATE_VERSION, worker_.config().heartbeat_ms, json);
    send_reply("welcome", json);
    for (const auto& status : worker_.current_stale_statuses(wire_)) queue.push_control(status->bytes(), now());
}

bool SessionBase::push_payload(std::string_view payload) {
    return queue.push_control_built(
        [&](std::string& out) { append_text_frame(out, [&](std::string& o) { o.append(payload); }); }, now());
}

void SessionBase::send_reply(std::string_view event, std::string_view v1_json) {
    if (wire_ == Wire::v1) {
        push_payload(v1_json);
        return;
    }
    std::string packet;
    protocol::socketio::encode_event(message_mode_ ? protocol::socketio::kMessageEvent : event, v1_json, packet);
    push_payload(packet);
}

void SessionBase::send_ack(std::string_view json) {
    std::string packet;
    protocol::socketio::encode_ack(*ack_id_, json, packet);
    ack_id_.reset();
    push_payload(packet);
}

void SessionBase::queue_snapshot(const protocol::TickerUpdate& update) {
    const bool queued = queue.push_control_built(
        [&](std::string& out) {
            append_text_frame(out, [&](std::string& o) {
                if (wire_ == Wire::socketio) {
                    protocol::socketio::begin_event(protocol::topic_channel(update.topic()), o);
                    protocol::encode_update(update, true, o);
                    protocol::socketio::end_event(o);
                } else {
                    protocol::encode_update(update, true, o);
                }
            });
        },
        now());
    if (!queued) overflowed = true;
}

void SessionBase::on_engineio_packet(std::string_view frame) {
    if (state_ != State::open) return;
    namespace eio = protocol::engineio;
    eio::Packet packet;
    if (const auto error = eio::decode_text_packet(frame, packet); error != eio::DecodeError::none)
        return protocol_violation(eio::decode_error_name(error));
    switch (packet.type) {
    case eio::PacketType::message: return on_socketio_packet(packet.data);
    case eio::PacketType::pong: return;  // activity was noted on read
    case eio::PacketType::ping: {
        // Only an upgrade probe ("2probe") is a client ping in Engine.IO v4; answer it anyway.
        std::string pong;
        eio::append_packet(eio::PacketType::pong, packet.data, pong);
        push_payload(pong);
        if (probing_ && packet.data == "probe")
            if (auto polling = upgrading_from_.lock()) polling->on_probe_started();
        return;
    }
    case eio::PacketType::close: return close(1000, "client closed", true);
    case eio::PacketType::upgrade: {
        if (!probing_) return;
        auto polling = upgrading_from_.lock();
        if (!polling || !polling->is_open()) return close(1008, "Session ID unknown", true);
        return take_over(*polling);
    }
    case eio::PacketType::noop: return;
    case eio::PacketType::open: return protocol_violation("open packet from a client");
    }
}

void SessionBase::on_socketio_packet(std::string_view data) {
    namespace sio = protocol::socketio;
    sio::Packet packet;
    if (const auto error = sio::decode(data, packet, worker_.config().max_message_bytes); error != sio::DecodeError::none)
        return protocol_violation(sio::decode_error_name(error));
    if (packet.type == sio::PacketType::connect) {
        std::string reply;
        if (packet.nsp != sio::kDefaultNamespace) {
            sio::encode_connect_error(packet.nsp, "Invalid namespace", reply);
            push_payload(reply);
            return;
        }
        if (socketio_connected_) return;
        socketio_connected_ = true;
        sio::encode_connect(id_, reply);
        push_payload(reply);
        send_welcome();
        return;
    }
    if (packet.type == sio::PacketType::disconnect) return close(1000, "client disconnected", true);
    if (packet.type != sio::PacketType::event) return;  // acks from the client: we never ask for any
    if (!socketio_connected_ || packet.nsp != sio::kDefaultNamespace)
        return protocol_violation("event before CONNECT or outside namespace /");
    if (!take_rate_token(now())) return;
    ack_id_ = packet.ack_id;
    message_mode_ = packet.event == sio::kMessageEvent;
    auto parsed = sio::event_to_request(packet);
    if (auto* error = std::get_if<protocol::RequestError>(&parsed)) {
        send_error(error->id_json, error->code, error->message);
        if (wants_ack()) send_ack(ack_body("", false));
    } else {
        handle(std::get<protocol::Request>(parsed));
    }
    ack_id_.reset();
    ack_error_json_.clear();
    message_mode_ = false;
}

void SessionBase::protocol_violation(std::string_view what) {
    worker_.stats().socketio_malformed.add();
    TG_LOG(info, "session %s %s: malformed Socket.IO packet (%.*s), closing", id_.c_str(), peer_.c_str(),
           static_cast<int>(what.size()), what.data());
    close(1002, "malformed packet", true);
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
    if (wire_ == Wire::socketio) return protocol_violation("binary packet (attachments are not accepted)");
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
        std::string json;
        if (wants_ack()) {
            json = "{\"topics\":";
            std::string list;
            protocol::encode_topic_list("", names, list);  // {"type":"topics","topics":[...]}
            json.append(list, list.find('['), std::string::npos);
            send_ack(json);
        } else {
            protocol::encode_topic_list(request.id_json, names, json);
            send_reply("topics", json);
        }
        break;
    }
    case protocol::Op::ping: {
        const auto ts = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        std::string json;
        if (wants_ack()) {
            send_ack("{\"ts\":" + std::to_string(ts) + "}");
        } else {
            protocol::encode_pong(request.id_json, ts, json);
            send_reply("pong", json);
        }
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
    const bool accepted = !outcome.added.empty() || !outcome.already_held.empty();
    std::string json;
    if (wants_ack()) {
        protocol::encode_topic_ack("subscribed", "", outcome.added, json);
        send_ack(ack_body(json, accepted));
        if (!accepted) return;
    } else if (!accepted) {
        return;
    } else {
        protocol::encode_topic_ack("subscribed", id_json, outcome.added, json);
        send_reply("subscribed", json);
    }
    // Snapshots after the ack; they sit in the ordered part of the queue, ahead of any later live update.
    for (std::uint32_t topic_id : outcome.newly_covered) {
        const TopicState& topic = registry.topic(topic_id);
        if (!topic.has_value) continue;
        queue_snapshot(topic.latest);
        if (overflowed) break;
    }
    if (overflowed) close(1008, "slow consumer", true);
}

void SessionBase::unsubscribe(const std::string& id_json, const std::vector<std::string>& entries) {
    auto outcome = worker_.registry().unsubscribe(*this, entries);
    update_subscription_gauge();
    if (!outcome.malformed.empty())
        send_error(id_json, protocol::ErrorCode::bad_request,
                   "not a topic (channel.SYMBOL-QUOTE) or pattern (* for a segment)", outcome.malformed);
    std::string json;
    if (wants_ack()) {
        protocol::encode_topic_ack("unsubscribed", "", outcome.removed, json);
        send_ack(ack_body(json, true));
    } else {
        protocol::encode_topic_ack("unsubscribed", id_json, outcome.removed, json);
        send_reply("unsubscribed", json);
    }
}

void SessionBase::send_error(std::string_view id_json, protocol::ErrorCode code, std::string_view message,
                             const std::vector<std::string>& topics) {
    worker_.stats().client_error(code);
    TG_LOG(debug, "session %s %s: %s error: %.*s", id_.c_str(), peer_.c_str(),
           std::string(protocol::error_code_name(code)).c_str(), static_cast<int>(message.size()), message.data());
    if (wants_ack()) {
        // Socket.IO: a request with an ack hears about its errors in the ack, as {"error":{...}}.
        if (ack_error_json_.empty()) {
            std::string json;
            protocol::encode_error("", code, message, topics, json);  // {"type":"error","code":...}
            ack_error_json_.assign(1, '{');
            ack_error_json_.append(json, json.find("\"code\""));
        }
        return;
    }
    std::string json;
    protocol::encode_error(id_json, code, message, topics, json);
    send_reply("error", json);
}

std::string SessionBase::ack_body(std::string_view topics_ack_json, bool accepted) {
    // topics_ack_json is {"type":..,"topics":[..]}: keep only the topics.
    std::string body(1, '{');
    if (accepted) body.append(topics_ack_json.substr(topics_ack_json.find("\"topics\"")));
    else body += '}';
    if (!ack_error_json_.empty()) {
        body.pop_back();
        if (body.size() > 1) body += ',';
        body += "\"error\":" + ack_error_json_ + "}";
    }
    ack_error_json_.clear();
    return body;
}

void SessionBase::update_subscription_gauge() {
    const auto held = entries.size();
    worker_.stats().subscriptions.add(static_cast<std::int64_t>(held) - static_cast<std::int64_t>(counted_subscriptions_));
    counted_subscriptions_ = held;
}

void SessionBase::close(std::uint16_t code, std::string_view reason, bool discard_backlog) {
    if (state_ != State::open) return;
    state_ = State::closing;
    abandon_probe();
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
    // v1: three silent heartbeats. Engine.IO: the pong is due within pingTimeout (= heartbeat) of
    // a ping sent every pingInterval (= heartbeat).
    const int silent_heartbeats = wire_ == Wire::socketio ? 2 : 3;
    if (now_ns - last_activity_ns_ >= silent_heartbeats * heartbeat_ns) {
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
    // A probe carries only the probe: the polling session pings until the upgrade completes.
    if (now_ns - last_ping_ns_ >= heartbeat_ns && !probing_) {
        last_ping_ns_ = now_ns;
        if (wire_ == Wire::socketio)
            push_payload(protocol::engineio::kPing);
        else
            queue.push_control_built(
                [](std::string& out) { protocol::append_frame(out, protocol::Opcode::ping, ""); }, now_ns);
        flush();
    }
}

}  // namespace tickgate::gateway
