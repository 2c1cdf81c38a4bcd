#include "gateway/fanout/topic_history.hpp"

namespace tickgate::gateway {
namespace {

// What a held topic's deque costs before its first entry (libstdc++: a map and one 512-byte node).
constexpr std::size_t kDequeBytes = 640;
// One (topic, offset) record of the global order (a deque's share of it).
constexpr std::size_t kOrderRecordBytes = sizeof(std::pair<std::uint32_t, std::uint64_t>);

}  // namespace

TopicHistory::TopicHistory(HistoryLimits limits) : limits_(limits) {}

std::size_t TopicHistory::entry_bytes(const HistoryEntry& e) noexcept {
    // The frame's buffer, its control block and the entry itself (a book delta's levels as well).
    std::size_t n = sizeof(HistoryEntry) + sizeof(Frame) + 32 + e.frame->storage.capacity();
    if (e.frame->book) n += sizeof(BookDelta) + (e.frame->book->bids.size() + e.frame->book->asks.size()) *
                                                    sizeof(protocol::PriceLevel);
    return n;
}

TopicHistory::Topic& TopicHistory::topic_for(std::uint32_t topic_id) {
    if (topic_id >= topics_.size()) topics_.resize(topic_id + 1);
    return topics_[topic_id];
}

const TopicHistory::Topic* TopicHistory::find(std::uint32_t topic_id) const noexcept {
    return topic_id < topics_.size() ? &topics_[topic_id] : nullptr;
}

void TopicHistory::evict_front(Topic& t) {
    HistoryEntry& e = t.entries->front();
    t.floor_seq = e.seq;
    t.floor_offset = e.offset;
    bytes_ -= entry_bytes(e);
    --entries_;
    t.entries->pop_front();
    if (t.entries->empty()) {
        t.entries.reset();
        bytes_ -= kDequeBytes;
    }
}

void TopicHistory::append(std::uint32_t topic_id, std::uint64_t epoch, std::uint64_t seq, std::uint64_t prev_seq,
                          std::uint64_t offset, FramePtr frame, std::int64_t now_ns) {
    if (!enabled() || !frame) return;
    std::lock_guard lock(mutex_);
    Topic& t = topic_for(topic_id);
    if (t.epoch != epoch) {
        // A first sight of the epoch without a reset before it (the topic's first message).
        if (t.entries) {
            bytes_ -= kDequeBytes;
            for (const auto& e : *t.entries) bytes_ -= entry_bytes(e), --entries_;
            t.entries.reset();
        }
        // Messages of the old epoch were seen here: a client's offset from before is not covered.
        if (t.epoch != 0) t.floor_offset = offset - 1;
        t.epoch = epoch;
        t.started = false;
    }
    if (!t.started) {
        t.started = true;
        t.floor_seq = prev_seq;
    }
    if (!t.entries) {
        t.entries = std::make_unique<std::deque<HistoryEntry>>();
        bytes_ += kDequeBytes;
    }
    t.entries->push_back(HistoryEntry{seq, offset, now_ns, std::move(frame)});
    bytes_ += entry_bytes(t.entries->back());
    ++entries_;
    order_.emplace_back(topic_id, offset);
    while (t.entries && t.entries->size() > limits_.per_topic) {
        evict_front(t);
        ++evictions_.count;
    }
    bytes_ += kOrderRecordBytes;
    // Cheap when nothing is old: the front of order_ is the oldest entry anywhere.
    if (limits_.max_age_ms > 0) expire_locked(now_ns);
    pop_stale_records();
    enforce_bytes();
}

void TopicHistory::pop_stale_records() {
    while (!order_.empty()) {
        const auto [id, offset] = order_.front();
        const Topic& t = topics_[id];
        if (t.entries && t.entries->front().offset == offset) return;
        order_.pop_front();
        bytes_ -= kOrderRecordBytes;
    }
}

void TopicHistory::enforce_bytes() {
    // The order records count too: with only the per-topic limit evicting, records of entries
    // already gone pile up behind an idle topic's old entry until the budget evicts that entry.
    while (bytes_ > limits_.max_bytes && !order_.empty()) {
        const auto [id, offset] = order_.front();
        order_.pop_front();
        bytes_ -= kOrderRecordBytes;
        Topic& t = topics_[id];
        // Gone already (its topic's own limit, a reset): nothing to evict for this record.
        if (!t.entries || t.entries->front().offset != offset) continue;
        evict_front(t);
        ++evictions_.bytes;
    }
}

void TopicHistory::expire(std::int64_t now_ns) {
    if (!enabled() || limits_.max_age_ms <= 0) return;
    std::lock_guard lock(mutex_);
    expire_locked(now_ns);
    pop_stale_records();
}

void TopicHistory::expire_locked(std::int64_t now_ns) {
    const std::int64_t oldest_kept = now_ns - limits_.max_age_ms * 1'000'000;
    while (!order_.empty()) {
        const auto [id, offset] = order_.front();
        Topic& t = topics_[id];
        if (t.entries && t.entries->front().offset == offset) {
            if (t.entries->front().stored_ns >= oldest_kept) break;
            evict_front(t);
            ++evictions_.age;
        }
        order_.pop_front();
        bytes_ -= kOrderRecordBytes;
    }
}

void TopicHistory::reset(std::uint32_t topic_id, std::uint64_t epoch, std::uint64_t offset) {
    if (!enabled()) return;
    std::lock_guard lock(mutex_);
    Topic& t = topic_for(topic_id);
    if (t.entries) {
        for (const auto& e : *t.entries) bytes_ -= entry_bytes(e), --entries_;
        bytes_ -= kDequeBytes;
        t.entries.reset();
    }
    t.epoch = epoch;
    t.started = false;
    t.floor_offset = offset > 0 ? offset - 1 : 0;
}

TopicHistory::Reach TopicHistory::since_seq(std::uint32_t topic_id, std::uint64_t epoch, std::uint64_t since_seq,
                                            std::uint64_t upto_seq, std::vector<HistoryEntry>& out) const {
    out.clear();
    std::lock_guard lock(mutex_);
    const Topic* t = find(topic_id);
    if (!t || t->epoch == 0) return Reach::not_reached;
    if (epoch == 0 || t->epoch != epoch) return Reach::stale_epoch;
    if (!t->started) return Reach::not_reached;
    if (since_seq > upto_seq) return Reach::ahead;
    if (since_seq < t->floor_seq) return Reach::not_reached;
    if (t->entries)
        for (const auto& e : *t->entries) {
            if (e.seq > upto_seq) break;
            if (e.seq > since_seq) out.push_back(e);
        }
    return Reach::covered;
}

TopicHistory::Reach TopicHistory::since_offset(std::uint32_t topic_id, std::uint64_t since_offset,
                                               std::uint64_t upto_offset, std::vector<HistoryEntry>& out) const {
    out.clear();
    std::lock_guard lock(mutex_);
    const Topic* t = find(topic_id);
    // A topic that never had a message here has nothing to miss.
    if (!t) return Reach::covered;
    if (since_offset > upto_offset) return Reach::ahead;
    if (since_offset < t->floor_offset) return Reach::not_reached;
    if (t->entries)
        for (const auto& e : *t->entries) {
            if (e.offset > upto_offset) break;
            if (e.offset > since_offset) out.push_back(e);
        }
    return Reach::covered;
}

void TopicHistory::last(std::uint32_t topic_id, std::size_t k, std::uint64_t upto_seq,
                        std::vector<HistoryEntry>& out) const {
    out.clear();
    std::lock_guard lock(mutex_);
    const Topic* t = find(topic_id);
    if (!t || !t->entries || k == 0) return;
    auto end = t->entries->end();
    while (end != t->entries->begin() && std::prev(end)->seq > upto_seq) --end;
    auto begin = end;
    while (begin != t->entries->begin() && static_cast<std::size_t>(end - begin) < k) --begin;
    out.assign(begin, end);
}

std::uint64_t TopicHistory::epoch(std::uint32_t topic_id) const {
    std::lock_guard lock(mutex_);
    const Topic* t = find(topic_id);
    return t ? t->epoch : 0;
}

std::size_t TopicHistory::bytes() const noexcept {
    std::lock_guard lock(mutex_);
    return bytes_;
}

std::size_t TopicHistory::entries() const noexcept {
    std::lock_guard lock(mutex_);
    return entries_;
}

TopicHistory::Evictions TopicHistory::evictions() const noexcept {
    std::lock_guard lock(mutex_);
    return evictions_;
}

}  // namespace tickgate::gateway
