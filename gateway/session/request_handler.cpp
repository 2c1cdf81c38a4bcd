#include "gateway/session/request_handler.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/broadcast_engine.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/topic_history.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/session/replies.hpp"
#include "gateway/session/session.hpp"
#include "protocol/entitlement.hpp"
#include "protocol/messages.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {
namespace {

constexpr std::string_view kNotAnEntry = "not a topic (channel.SYMBOL-QUOTE) or pattern (* for a segment)";

/// One `since` key of a subscribe: whether it is recovered, and what its replay is.
struct Resume {
    const protocol::SincePoint* point = nullptr;
    std::optional<std::uint32_t> topic_id;  // set when the request's accepted entries cover it
    bool recovered = false;
    std::vector<HistoryEntry> replay;
};

/// Whether `entries` (what the request added or held already) cover `topic` at the raw rate. A
/// topic only throttled is not replayed: its newest value, the snapshot, is all its stream owes.
bool covered_by(std::span<const std::string> a, std::span<const std::string> b, std::string_view topic) {
    for (auto entries : {a, b})
        for (const auto& entry : entries)
            if (entry.find('@') == std::string::npos && protocol::entry_matches(entry, topic)) return true;
    return false;
}

/// What each `since` key gets: a replay from the history when it reaches back from the client's
/// point in the same epoch, up to where this worker has handed the topic out (TopicState.last_seq:
/// its next batches bring what follows, so the seam has neither a hole nor a duplicate), and the
/// replays together fit in half the session's queue bound (past it the queue would start
/// dropping); otherwise not recovered. Forbidden, unknown or refused entries cover nothing here,
/// so a topic the client may not see is never replayed.
std::vector<Resume> plan_resumes(Session& session, std::span<const protocol::SincePoint> since,
                                 const SubscriptionRegistry::SubscribeOutcome& outcome) {
    std::vector<Resume> resumes;
    resumes.reserve(since.size());
    const auto& registry = session.worker().registry();
    const TopicHistory* history = session.worker().history();
    std::size_t budget = session.queue().max_bytes() / 2;
    budget = budget > session.queue().bytes() ? budget - session.queue().bytes() : 0;
    for (const auto& point : since) {
        Resume& r = resumes.emplace_back();
        r.point = &point;
        if (!covered_by(outcome.added, outcome.already_held, point.topic)) continue;
        r.topic_id = registry.find(point.topic);
        if (!r.topic_id || !history || !history->enabled()) continue;
        const TopicState& topic = registry.topic(*r.topic_id);
        if (topic.epoch != point.epoch) continue;
        if (history->since_seq(*r.topic_id, point.epoch, point.seq, topic.last_seq, r.replay) !=
            TopicHistory::Reach::covered)
            continue;
        // A book view chains by prev_seq: the replay must start from the client's very message (a
        // seq the view never sent would leave its book unchained), and its deltas' checksums then hold.
        if (topic.book) {
            const bool chains = r.replay.empty() ? point.seq == topic.last_seq
                                                 : r.replay.front().frame->book &&
                                                       r.replay.front().frame->book->prev_seq == point.seq;
            if (!chains) {
                r.replay.clear();
                continue;
            }
        }
        std::size_t bytes = 0;
        for (const auto& e : r.replay) bytes += e.frame->bytes().size() + 16;  // Socket.IO wraps it in a little more
        if (bytes > budget) {
            r.replay.clear();
            continue;
        }
        budget -= bytes;
        r.recovered = true;
    }
    return resumes;
}

/// The exact topics the ack names the epochs of: those the request newly covers, then the since
/// keys it covers that were held already. Topics without a known epoch are left out.
std::vector<protocol::TopicEpoch> ack_epochs(const SubscriptionRegistry& registry,
                                             const std::vector<std::uint32_t>& newly_covered,
                                             const std::vector<Resume>& resumes) {
    std::vector<protocol::TopicEpoch> epochs;
    epochs.reserve(newly_covered.size() + resumes.size());
    auto add = [&](std::uint32_t id) {
        const TopicState& t = registry.topic(id);
        if (t.epoch != 0) epochs.push_back({t.name, t.epoch});
    };
    for (std::uint32_t id : newly_covered) add(id);
    for (const auto& r : resumes)
        if (r.topic_id && std::find(newly_covered.begin(), newly_covered.end(), *r.topic_id) == newly_covered.end())
            add(*r.topic_id);
    return epochs;
}

/// A subscriber's first message of a topic: its latest value (a ticker, a book view), or for a
/// trade channel or a room the last --history-snapshot messages, in seq order. False when the
/// queue is full.
bool queue_snapshot(Session& session, std::uint32_t topic_id) {
    const TopicState& topic = session.worker().registry().topic(topic_id);
    if (topic.has_value) {
        return session.queue_built([&](std::string& out) {
            if (topic.book)
                frames::book_snapshot(topic.name, topic.book_seq, topic.book_ts_ns, *topic.book, session.wire(), out);
            else
                frames::snapshot(topic.latest, session.wire(), out);
        });
    }
    const auto k = session.config().history_snapshot;
    const TopicHistory* history = session.worker().history();
    const bool eventful = topic.kind == protocol::UpdateKind::trade || topic.kind == protocol::UpdateKind::published;
    if (k == 0 || !history || !eventful) return true;  // a ticker before its first update has nothing yet
    std::vector<HistoryEntry> last;
    history->last(topic_id, k, topic.last_seq, last);
    for (const auto& e : last)
        if (!session.queue_built([&](std::string& out) { frames::history_snapshot(*e.frame, topic.name, session.wire(), out); }))
            return false;
    return true;
}

/// The stored frames of a recovered topic, as they were sent live (Socket.IO: wrapped as live).
bool queue_replay(Session& session, const Resume& r) {
    const TopicState& topic = session.worker().registry().topic(*r.topic_id);
    const auto channel = protocol::topic_channel(topic.name);
    const bool offsets = session.config().socketio_recovery_ms > 0;  // as live Socket.IO events carry them
    for (const auto& e : r.replay) {
        const FramePtr frame =
            session.wire() == Wire::v1 ? e.frame : frames::socketio_live(*e.frame, channel, offsets ? e.offset : 0);
        if (!session.queue().push_shared(frame, session.now())) return false;
    }
    return true;
}

/// Whether a since point is above what this worker has handed out of its topic, in the same epoch:
/// the client saw it from another worker (or gateway) a moment ahead, and this worker's copy of that
/// message may still be queued.
bool worker_behind(Session& session, std::span<const protocol::SincePoint> since) {
    const TopicHistory* history = session.worker().history();
    if (!history || !history->enabled()) return false;
    const auto& registry = session.worker().registry();
    for (const auto& point : since) {
        const auto id = registry.find(point.topic);
        if (!id) continue;
        const TopicState& topic = registry.topic(*id);
        if (topic.epoch == point.epoch && point.seq > topic.last_seq) return true;
    }
    return false;
}

void subscribe(Session& session, const protocol::Request& request, Replies& replies, bool deferred = false) {
    // A since ahead of this worker: decided once the batches queued here have run, so the replay
    // ends where this worker's live messages go on (else live would bring again what the client
    // had). Once only: a seq still ahead then is really above the topic's. Not for Socket.IO,
    // whose connection state recovery follows what a session covers around each request.
    if (!deferred && session.wire() == Wire::v1 && worker_behind(session, request.since)) {
        boost::asio::post(session.worker().io(), [weak = session.weak_from_this(), request, form = replies.form()] {
            const auto later = weak.lock();
            if (!later || !later->is_open()) return;
            auto replies = Replies::resume(*later, form);
            subscribe(*later, request, replies, true);
            later->flush();
        });
        return;
    }
    // Entries with an interval suffix the registry cannot serve are refused here with their own
    // reason (a bad interval, a trade, a room, a publishable channel), instead of the generic
    // "not a topic" it would give.
    std::vector<std::string> requested;
    std::vector<std::pair<std::string_view, std::vector<std::string>>> throttle_refusals;
    for (const auto& entry : request.topics) {
        if (entry.find('@') == std::string::npos) {
            requested.push_back(entry);
            continue;
        }
        const auto parsed = protocol::parse_throttled_entry(entry);
        std::string_view reason = parsed.error;
        if (reason.empty() && parsed.kind == protocol::EntryKind::invalid) reason = kNotAnEntry;
        if (reason.empty() && session.config().publishable(protocol::topic_channel(parsed.base)))
            reason = "a publishable channel cannot be throttled: a client message is never superseded";
        if (reason.empty()) {
            requested.push_back(entry);
            continue;
        }
        auto it = std::find_if(throttle_refusals.begin(), throttle_refusals.end(),
                               [&](const auto& r) { return r.first == reason; });
        if (it == throttle_refusals.end()) it = throttle_refusals.insert(throttle_refusals.end(), {reason, {}});
        it->second.push_back(entry);
    }
    for (const auto& [reason, entries] : throttle_refusals)
        replies.error(protocol::ErrorCode::bad_request, std::string(reason), entries);
    auto& registry = session.worker().registry();
    const auto max = session.config().max_subscriptions;
    // Forbidden entries never reach the registry, so a client learns nothing (unknown_topic) about
    // topics it may not see. Malformed ones go on to be reported as bad_request.
    std::vector<std::string> forbidden, permitted;
    const protocol::Entitlement* allowed = session.entitlement();
    if (allowed && !allowed->allows_everything()) {
        for (const auto& entry : requested) {
            const bool valid = protocol::parse_throttled_entry(entry).kind != protocol::EntryKind::invalid;
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
    const auto resumes = plan_resumes(session, request.since, outcome);
    const auto epochs = ack_epochs(registry, outcome.newly_covered, resumes);
    std::vector<protocol::TopicRecovered> recovered;
    recovered.reserve(resumes.size());
    for (const auto& r : resumes) recovered.push_back({r.point->topic, r.recovered});
    replies.subscribed(outcome.added, accepted, {epochs, recovered, !request.since.empty()});
    if (!accepted) return;
    // Snapshots and replays after the ack; they sit in the ordered part of the queue, ahead of any
    // later live update. A recovered topic gets its replay instead of a snapshot; a since key not
    // recovered gets the snapshot even when its entry was held already.
    bool queued = true;
    for (std::uint32_t topic_id : outcome.newly_covered) {
        const bool resumed = std::any_of(resumes.begin(), resumes.end(),
                                         [&](const Resume& r) { return r.topic_id == topic_id; });
        if (!resumed && !(queued = queue_snapshot(session, topic_id))) break;
    }
    for (const auto& r : resumes) {
        if (!queued || !r.topic_id) continue;
        queued = r.recovered ? queue_replay(session, r) : queue_snapshot(session, *r.topic_id);
    }
    // A faster rate for a topic already covered: the client goes on from its current value.
    for (std::uint32_t topic_id : outcome.resync)
        if (queued) queued = queue_snapshot(session, topic_id);
    if (!queued) session.queue().mark_overflowed();
    if (session.queue().overflowed()) session.close(1008, "slow consumer", true);
}

void unsubscribe(Session& session, const std::vector<std::string>& entries, Replies& replies) {
    auto outcome = session.worker().registry().unsubscribe(session, entries);
    session.sync_subscription_gauge();
    if (!outcome.malformed.empty()) replies.error(protocol::ErrorCode::bad_request, kNotAnEntry, outcome.malformed);
    replies.topics_changed("unsubscribed", outcome.removed, true);
    // A topic now delivered at a rate whose stream is ahead of what the client holds.
    bool queued = true;
    for (std::uint32_t topic_id : outcome.resync)
        if (queued) queued = queue_snapshot(session, topic_id);
    if (!queued) session.queue().mark_overflowed();
    if (session.queue().overflowed()) session.close(1008, "slow consumer", true);
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
    case protocol::Op::subscribe: return subscribe(session, request, replies);
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
