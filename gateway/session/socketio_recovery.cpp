#include "gateway/session/socketio_recovery.hpp"

#include <algorithm>

#include "feeds/runtime/log.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/session/replies.hpp"
#include "gateway/session/request_handler.hpp"
#include "gateway/session/session.hpp"
#include "protocol/entitlement.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {

SocketIoRecovery::SocketIoRecovery(Session& session)
    : session_(session), store_(session.worker().history() ? session.worker().recovery_store() : nullptr) {}

SocketIoRecovery::Outcome SocketIoRecovery::on_connect(const std::optional<protocol::socketio::RecoveryClaim>& claim) {
    outcome_ = Outcome::fresh;
    if (!enabled()) return outcome_;
    const auto& identity = session_.identity();
    const std::string sub = identity ? identity->claims.sub : std::string();
    if (claim) {
        kept_ = store_->take(claim->pid, session_.now());
        // A pid shown with another sub has leaked: it is forgotten rather than put back.
        if (kept_ && (kept_->sub != sub || !still_allowed(*kept_))) kept_.reset();
        if (!kept_) {
            store_->count(RecoveryStore::Outcome::refused);
        } else if (plan_replay(*kept_, claim->offset)) {
            outcome_ = Outcome::recovered;
            pid_ = claim->pid;
            store_->count(RecoveryStore::Outcome::recovered);
        } else {
            outcome_ = Outcome::restored;
            store_->count(RecoveryStore::Outcome::restored);
        }
        TG_LOG(info, "session %s %s: Socket.IO recovery %s (%zu missed events)", session_.id().c_str(),
               session_.peer().c_str(),
               outcome_ == Outcome::recovered  ? "recovered"
               : outcome_ == Outcome::restored ? "fell short of the history: subscriptions restored with snapshots"
                                               : "refused: pid unknown, expired, or not this client's",
               replay_.size());
    }
    if (pid_.empty()) pid_ = RecoveryStore::new_pid();
    return outcome_;
}

bool SocketIoRecovery::still_allowed(const KeptSession& kept) const {
    const protocol::Entitlement* allowed = session_.entitlement();
    if (!allowed || allowed->allows_everything()) return true;
    return std::all_of(kept.entries.begin(), kept.entries.end(),
                       [&](const std::string& entry) { return allowed->allows(entry); });
}

bool SocketIoRecovery::plan_replay(const KeptSession& kept, std::uint64_t offset) {
    auto& registry = session_.worker().registry();
    const TopicHistory& history = *session_.worker().history();
    std::vector<std::uint32_t> topics;  // every topic the entries cover on this worker
    // Throttled entries are restored with snapshots: their missed messages were never sent as such
    // (the history holds the raw stream), and the newest value is all a throttled stream owes.
    for (const std::string& entry : kept.entries)
        if (entry.find('@') != std::string::npos) return false;
    for (const std::string& entry : kept.entries) {
        const auto kind = protocol::classify_entry(entry);
        if (kind == protocol::EntryKind::topic || kind == protocol::EntryKind::room) {
            if (auto id = registry.find(entry)) topics.push_back(*id);  // a room not there yet has nothing to miss
            continue;
        }
        for (std::uint32_t id = 0; id < registry.topic_count(); ++id)
            if (protocol::entry_matches(entry, registry.topic(id).name)) topics.push_back(id);
    }
    std::sort(topics.begin(), topics.end());
    topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    const std::unordered_map<std::uint32_t, std::uint64_t> from(kept.covered_from.begin(), kept.covered_from.end());
    std::vector<HistoryEntry> entries;
    replay_.clear();
    for (const std::uint32_t id : topics) {
        std::uint64_t since = offset;
        if (auto it = from.find(id); it != from.end()) since = std::max(since, it->second);
        // Up to where this worker has handed the topic out: its next batches bring the rest.
        switch (history.since_offset(id, since, registry.topic(id).last_offset, entries)) {
        case TopicHistory::Reach::covered:
            for (auto& e : entries) replay_.emplace_back(id, std::move(e));
            break;
        case TopicHistory::Reach::ahead: break;  // nothing of it after the client's point handed out here yet
        case TopicHistory::Reach::not_reached:
        case TopicHistory::Reach::stale_epoch: replay_.clear(); return false;
        }
    }
    std::sort(replay_.begin(), replay_.end(),
              [](const auto& a, const auto& b) { return a.second.offset < b.second.offset; });
    return true;
}

void SocketIoRecovery::restore() {
    if (!kept_) return;
    if (outcome_ == Outcome::recovered)
        restore_recovered();
    else
        restore_with_snapshots();
    kept_.reset();
    replay_.clear();
    replay_.shrink_to_fit();
}

void SocketIoRecovery::restore_recovered() {
    auto& registry = session_.worker().registry();
    const auto& config = session_.config();
    registry.subscribe(session_, kept_->entries, config.max_subscriptions, config.publish_channels);
    session_.sync_subscription_gauge();
    // The client's view of these topics still starts where it did.
    for (const auto& [id, from] : kept_->covered_from)
        if (session_.membership().coverage.contains(id)) covered_from_.emplace(id, from);
    const auto now = session_.now();
    for (const auto& [id, entry] : replay_) {
        const auto frame = frames::socketio_live(*entry.frame, protocol::topic_channel(registry.topic(id).name),
                                                 entry.offset);
        if (session_.queue().push_live(frame, now) == OutboundQueue::Push::overflow) break;
    }
    if (session_.queue().overflowed()) session_.close(1008, "slow consumer", true);
}

void SocketIoRecovery::restore_with_snapshots() {
    if (kept_->entries.empty()) return;
    // The ordinary subscribe, as if the client had sent it: a "subscribed" event, then snapshots.
    protocol::Request request;
    request.op = protocol::Op::subscribe;
    request.topics = std::move(kept_->entries);
    auto replies = Replies::objects(session_, "");
    tracking_coverage([&] { handle_request(session_, request, replies); });
}

std::vector<std::uint32_t> SocketIoRecovery::covered_topics() const {
    std::vector<std::uint32_t> ids;
    ids.reserve(session_.membership().coverage.size());
    for (const auto& [id, coverage] : session_.membership().coverage) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

void SocketIoRecovery::note_coverage(std::vector<std::uint32_t> before) {
    const auto& coverage = session_.membership().coverage;
    std::erase_if(covered_from_, [&](const auto& kv) { return !coverage.contains(kv.first); });
    auto& registry = session_.worker().registry();
    for (const auto& [id, c] : coverage)
        if (!std::binary_search(before.begin(), before.end(), id))
            covered_from_.insert_or_assign(id, registry.topic(id).last_offset);
}

void SocketIoRecovery::on_end(bool recoverable) {
    if (!enabled() || pid_.empty()) return;
    if (recoverable) {
        KeptSession kept;
        const auto& identity = session_.identity();
        if (identity) kept.sub = identity->claims.sub;
        kept.entries = session_.membership().entries;
        for (const auto& [id, from] : covered_from_)
            if (session_.membership().coverage.contains(id)) kept.covered_from.emplace_back(id, from);
        store_->keep(std::move(pid_), std::move(kept), session_.now());
    }
    pid_.clear();
    covered_from_.clear();
}

void SocketIoRecovery::adopt(SocketIoRecovery& from) {
    pid_ = std::move(from.pid_);
    covered_from_ = std::move(from.covered_from_);
    from.pid_.clear();
    from.covered_from_.clear();
}

}  // namespace tickgate::gateway
