#include "gateway/session/request_handler.hpp"

#include <boost/asio/post.hpp>

#include <memory>

#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/broadcast_engine.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/session/replies.hpp"
#include "gateway/session/session.hpp"
#include "protocol/entitlement.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {
namespace {

constexpr std::string_view kNotAnEntry = "not a topic (channel.SYMBOL-QUOTE) or pattern (* for a segment)";

void subscribe(Session& session, const std::vector<std::string>& requested, Replies& replies) {
    auto& registry = session.worker().registry();
    const auto max = session.config().max_subscriptions;
    // Forbidden entries never reach the registry, so a client learns nothing (unknown_topic) about
    // topics it may not see. Malformed ones go on to be reported as bad_request.
    std::vector<std::string> forbidden, permitted;
    const protocol::Entitlement* allowed = session.entitlement();
    if (allowed && !allowed->allows_everything()) {
        for (const auto& entry : requested) {
            const bool valid = protocol::classify_entry(entry) != protocol::EntryKind::invalid;
            (valid && !allowed->allows(entry) ? forbidden : permitted).push_back(entry);
        }
    }
    const auto& entries = allowed && !allowed->allows_everything() ? permitted : requested;
    auto outcome = registry.subscribe(session, entries, max, session.config().publish_channels);
    session.sync_subscription_gauge();
    if (!outcome.malformed.empty()) replies.error(protocol::ErrorCode::bad_request, kNotAnEntry, outcome.malformed);
    if (!forbidden.empty())
        replies.error(protocol::ErrorCode::forbidden, "not in this connection's entitlements", forbidden);
    if (!outcome.unknown.empty())
        replies.error(protocol::ErrorCode::unknown_topic, "no feed publishes this topic; see op list", outcome.unknown);
    if (!outcome.over_limit.empty())
        replies.error(protocol::ErrorCode::too_many_subscriptions,
                      "at most " + std::to_string(max) + " subscriptions per connection", outcome.over_limit);
    // Entries already held are accepted no-ops: they get an ack (listing only what was added) so a
    // client waiting on its request id always hears back; a request with nothing valid gets none.
    const bool accepted = !outcome.added.empty() || !outcome.already_held.empty();
    replies.topics_changed("subscribed", outcome.added, accepted);
    if (!accepted) return;
    // Snapshots after the ack; they sit in the ordered part of the queue, ahead of any later live update.
    for (std::uint32_t topic_id : outcome.newly_covered) {
        const TopicState& topic = registry.topic(topic_id);
        if (!topic.has_value) continue;  // trades have none; a ticker before its first update
        const bool queued = session.queue_built([&](std::string& out) {
            if (topic.book)
                frames::book_snapshot(topic.name, topic.book_seq, topic.book_ts_ns, *topic.book, session.wire(), out);
            else
                frames::snapshot(topic.latest, session.wire(), out);
        });
        if (!queued) {
            session.queue().mark_overflowed();
            break;
        }
    }
    if (session.queue().overflowed()) session.close(1008, "slow consumer", true);
}

void unsubscribe(Session& session, const std::vector<std::string>& entries, Replies& replies) {
    auto outcome = session.worker().registry().unsubscribe(session, entries);
    session.sync_subscription_gauge();
    if (!outcome.malformed.empty()) replies.error(protocol::ErrorCode::bad_request, kNotAnEntry, outcome.malformed);
    replies.topics_changed("unsubscribed", outcome.removed, true);
}

/// A client sees only the topics it may subscribe to.
void list(Session& session, Replies& replies) {
    auto names = session.worker().registry().topic_names();
    if (const auto* allowed = session.entitlement(); allowed && !allowed->allows_everything())
        std::erase_if(names, [&](std::string_view name) { return !allowed->allows(name); });
    replies.topic_list(names);
}

/// Why this session may not publish to `topic`, if it may not: an error for it.
std::optional<std::pair<protocol::ErrorCode, std::string>> publish_refusal(const Session& session,
                                                                          std::string_view topic) {
    using protocol::ErrorCode;
    const auto& config = session.config();
    const std::string channel(protocol::topic_channel(topic));
    if (config.publish_channels.empty() || !session.publisher())
        return std::pair{ErrorCode::forbidden, std::string("publishing is off on this gateway")};
    if (!config.publishable(channel))
        return std::pair{ErrorCode::forbidden, "channel '" + channel + "' is not publishable"};
    if (!protocol::is_room_topic(topic))
        return std::pair{ErrorCode::bad_request, std::string("not a room: channel.room, the room [a-z0-9_-]{1,20}")};
    if (!session.access_controlled()) return std::nullopt;  // without tokens, anyone may publish
    const auto& identity = session.identity();
    if (!identity) return std::pair{ErrorCode::forbidden, std::string("anonymous clients cannot publish")};
    for (const auto& allowed : identity->claims.publish)
        if (protocol::pattern_covers(allowed, topic)) return std::nullopt;
    return std::pair{ErrorCode::forbidden, std::string("not in this token's publish claim")};
}

/// Hands the message to the engine. The answer comes back on worker 0 once it is sequenced (by the
/// engine, or by the publisher over NATS), and is posted to this session's worker, where the
/// session may be gone by then.
void publish(Session& session, const protocol::Request& request, Replies& replies) {
    const std::vector<std::string> topics{request.topic};
    if (auto refusal = publish_refusal(session, request.topic)) {
        replies.error(refusal->first, refusal->second, topics);
        return replies.rejected();
    }
    protocol::PublishedMessage message;
    message.topic = request.topic;
    message.from = session.publisher_name();
    message.data = request.data;
    Worker* worker = &session.worker();
    auto answer = [weak = session.weak_from_this(), worker, form = replies.form(),
                   topics](PublishResult result) mutable {
        boost::asio::post(worker->io(), [weak = std::move(weak), form = std::move(form), topics = std::move(topics),
                                         result = std::move(result)] {
            const auto session = weak.lock();
            if (!session || !session->is_open()) return;
            auto replies = Replies::resume(*session, form);
            if (result.error) {
                replies.error(*result.error, result.message, topics);
                replies.rejected();
            } else {
                replies.published(topics.front(), result.seq);
            }
            session->flush();
        });
    };
    session.publisher()->submit_publish(std::move(message), std::move(answer));
}

}  // namespace

void handle_request(Session& session, const protocol::Request& request, Replies& replies) {
    switch (request.op) {
    case protocol::Op::subscribe: return subscribe(session, request.topics, replies);
    case protocol::Op::unsubscribe: return unsubscribe(session, request.topics, replies);
    case protocol::Op::list: return list(session, replies);
    case protocol::Op::ping: return replies.pong(runtime::realtime_ns());
    case protocol::Op::auth: return session.authenticate(request.token, replies);
    case protocol::Op::refresh: return session.refresh(request.token, replies);
    case protocol::Op::publish: return publish(session, request, replies);
    }
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

}  // namespace tickgate::gateway
