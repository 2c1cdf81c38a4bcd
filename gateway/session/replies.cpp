#include "gateway/session/replies.hpp"

#include "gateway/fanout/frame_encoder.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/session.hpp"
#include "gateway/stats.hpp"
#include "protocol/auth_messages.hpp"
#include "protocol/messages.hpp"
#include "protocol/publish_messages.hpp"
#include "protocol/socketio_events.hpp"

namespace tickgate::gateway {

void Replies::send_object(std::string_view type, std::string_view json) {
    const std::string_view event = as_messages_ ? protocol::socketio::kMessageEvent : type;
    session_.queue_built([&](std::string& out) { frames::message(session_.wire(), event, json, out); });
}

void Replies::send_ack(std::string_view body) {
    if (!ack_id_) return;
    const auto id = *ack_id_;
    ack_id_.reset();
    session_.queue_built([&](std::string& out) { frames::socketio_ack(id, body, out); });
}

void Replies::error(protocol::ErrorCode code, std::string_view message, std::span<const std::string> topics) {
    session_.stats().client_error(code);
    TG_LOG(debug, "session %s %s: %s error: %.*s", session_.id().c_str(), session_.peer().c_str(),
           std::string(protocol::error_code_name(code)).c_str(), static_cast<int>(message.size()), message.data());
    if (ack_id_) {
        if (!first_error_)
            first_error_ = protocol::socketio::AckError{code, std::string(message), {topics.begin(), topics.end()}};
        return;
    }
    std::string json;
    protocol::encode_error(id_json_, code, message, topics, json);
    send_object("error", json);
}

void Replies::topics_changed(std::string_view type, std::span<const std::string> topics, bool accepted) {
    std::string json;
    if (ack_id_) {
        protocol::socketio::encode_topics_ack(accepted, topics, first_error_, json);
        return send_ack(json);
    }
    if (!accepted) return;
    protocol::encode_topic_ack(type, id_json_, topics, json);
    send_object(type, json);
}

void Replies::subscribed(std::span<const std::string> topics, bool accepted,
                         const protocol::SubscribeAckExtras& extras) {
    std::string json;
    if (ack_id_) {
        protocol::socketio::encode_topics_ack(accepted, topics, first_error_, json, extras);
        return send_ack(json);
    }
    if (!accepted) return;
    protocol::encode_subscribed(id_json_, topics, extras, json);
    send_object("subscribed", json);
}

void Replies::topic_list(std::span<const std::string_view> names) {
    std::string json;
    if (ack_id_) {
        protocol::socketio::encode_list_ack(names, json);
        return send_ack(json);
    }
    protocol::encode_topic_list(id_json_, names, json);
    send_object("topics", json);
}

void Replies::pong(std::int64_t ts_ns) {
    std::string json;
    if (ack_id_) {
        protocol::socketio::encode_pong_ack(ts_ns, json);
        return send_ack(json);
    }
    protocol::encode_pong(id_json_, ts_ns, json);
    send_object("pong", json);
}

void Replies::authenticated(std::string_view sub, std::int64_t expires_at_ns) {
    std::string json;
    if (ack_id_) {
        protocol::encode_authenticated_ack(sub, expires_at_ns, json);
        return send_ack(json);
    }
    protocol::encode_authenticated(id_json_, sub, expires_at_ns, json);
    send_object("authenticated", json);
}

void Replies::published(std::string_view topic, std::uint64_t seq) {
    std::string json;
    if (ack_id_) {
        protocol::encode_published_ack(topic, seq, json);
        return send_ack(json);
    }
    protocol::encode_published(id_json_, topic, seq, json);
    send_object("published", json);
}

void Replies::rejected() {
    if (!ack_id_) return;
    std::string json;
    protocol::socketio::encode_topics_ack(false, {}, first_error_, json);
    send_ack(json);
}

}  // namespace tickgate::gateway
