#include "gateway/fanout/subscription_registry.hpp"

#include <algorithm>
#include <utility>

#include "gateway/fanout/frame_encoder.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {

std::uint8_t rate_of_interval(std::uint32_t interval_ms) noexcept {
    for (std::size_t i = 0; i < kThrottleCount; ++i)
        if (protocol::kThrottleIntervalsMs[i] == interval_ms) return static_cast<std::uint8_t>(i + 1);
    return 0;
}

TopicState& SubscriptionRegistry::ensure_topic(std::uint32_t id, const protocol::MarketUpdate& first) {
    if (id < topics_.size()) return topics_[id];
    TopicState& t = ensure_topic(id, first.topic(), first.kind);
    if (t.book) t.book->set_decimals(first.price_decimals, first.size_decimals);
    return t;
}

TopicState& SubscriptionRegistry::ensure_topic(std::uint32_t id, std::string_view name, protocol::UpdateKind kind) {
    if (id < topics_.size()) return topics_[id];
    topics_.resize(id + 1);
    TopicState& t = topics_[id];
    t.name.assign(name);
    t.kind = kind;
    if (kind == protocol::UpdateKind::book) t.book = std::make_unique<protocol::OrderBook>();
    ids_.emplace(t.name, id);
    if (auto room = pending_rooms_.find(t.name); room != pending_rooms_.end()) {
        for (Subscriber* s : room->second) cover(*s, id, 0, nullptr, nullptr);
        pending_rooms_.erase(room);
    }
    for (auto& [pattern, holders] : patterns_) {
        const auto parsed = protocol::parse_throttled_entry(pattern);
        const auto rate = rate_of_interval(parsed.interval_ms);
        if ((rate == 0 || throttleable(t)) && protocol::entry_matches(parsed.base, t.name))
            for (Subscriber* s : holders) cover(*s, id, rate, nullptr, nullptr);
    }
    return t;
}

void SubscriptionRegistry::deliver(std::uint32_t topic_id, const protocol::MarketUpdate& update, const FramePtr& frame,
                                   std::int64_t now_ns, std::uint64_t offset) {
    TopicState& topic = topics_[topic_id];
    const bool fresh = std::exchange(topic.fresh_snapshot, false);
    if (frame->book && topic.book) {
        // Removals first: on a full side (a book50 view holds 50 levels, its copy's capacity) an
        // addition applied before a removal of the same delta would push out a level that stays.
        const BookDelta& d = *frame->book;
        for (const bool removals : {true, false}) {
            for (const auto& l : d.bids)
                if ((l.size == 0) == removals) topic.book->apply(protocol::BookSide::bid, l.price, l.size);
            for (const auto& l : d.asks)
                if ((l.size == 0) == removals) topic.book->apply(protocol::BookSide::ask, l.price, l.size);
        }
        topic.book_seq = d.seq;
        topic.book_ts_ns = d.ts_ns;
        if (!topic.has_value || fresh) {
            // The view's first change: who subscribed before it got an acknowledgement and no
            // snapshot, so the view as it now is goes to them as their snapshot; the next delta
            // chains from it (its prev_seq is this seq). After an epoch change likewise: the
            // delta chains from nothing a client holds (its prev_seq is 0).
            topic.has_value = true;
            return deliver_snapshot_to_all(topic, topic_id, now_ns, [&](Wire wire, std::string& out) {
                frames::book_snapshot(topic.name, topic.book_seq, topic.book_ts_ns, *topic.book, wire, out);
            });
        }
    } else {
        store_latest(topic_id, update);
        if (fresh && update.kind == protocol::UpdateKind::ticker)
            return deliver_snapshot_to_all(topic, topic_id, now_ns,
                                           [&](Wire wire, std::string& out) { frames::snapshot(topic.latest, wire, out); });
    }
    if (topic.throttled) stage_throttled(topic, topic_id, frame, frame->book ? frame->book->seq : update.seq, offset);
    FramePtr socketio_frame;
    for (Subscriber* s : topic.subscribers) {
        const FramePtr* f = &frame;
        if (s->wire() == Wire::socketio) {
            if (!socketio_frame) socketio_frame = frames::socketio_live(*frame, protocol::topic_channel(topic.name),
                                                       socketio_offsets_ ? offset : 0);
            f = &socketio_frame;
        }
        s->queue().push_live(*f, now_ns);
        mark_dirty(*s);
    }
}

void SubscriptionRegistry::skip(std::uint32_t topic_id, const protocol::MarketUpdate& update, const FramePtr& frame,
                                std::uint64_t offset) {
    store_latest(topic_id, update);
    TopicState& topic = topics_[topic_id];
    if (topic.throttled) stage_throttled(topic, topic_id, frame, update.seq, offset);
}

template <typename Build>
void SubscriptionRegistry::deliver_snapshot_to_all(TopicState& topic, std::uint32_t topic_id, std::int64_t now_ns,
                                                   Build&& build) {
    std::string v1, socketio;  // built on first need, once per wire
    const auto send = [&](Subscriber* s) {
        std::string& bytes = s->wire() == Wire::socketio ? socketio : v1;
        if (bytes.empty()) build(s->wire(), bytes);
        if (!s->queue().push_control(bytes, now_ns)) s->queue().mark_overflowed();
        mark_dirty(*s);
    };
    for (Subscriber* s : topic.subscribers) send(s);
    if (!topic.throttled) return;
    // Every throttled subscriber now holds the snapshot: the streams go on from it.
    for (ThrottledStream& st : *topic.throttled) {
        for (Subscriber* s : st.subscribers) send(s);
        for (const auto& [s, held] : st.joined) {
            send(s);
            auto& c = s->membership_.coverage[topic_id];
            c.joined = false;
            c.index = static_cast<std::uint32_t>(st.subscribers.size());
            st.subscribers.push_back(s);
        }
        st.joined.clear();
        st.newest.reset();
        st.merged.reset();
        st.sent_seq = current_seq(topic);
    }
}

void SubscriptionRegistry::stage_throttled(TopicState& topic, std::uint32_t topic_id, const FramePtr& frame,
                                           std::uint64_t seq, std::uint64_t offset) {
    for (std::size_t i = 0; i < kThrottleCount; ++i) {
        ThrottledStream& st = (*topic.throttled)[i];
        if (st.empty()) continue;
        if (frame->book && st.newest && st.newest->book) {
            // The first delta keeps its prev_seq (what the stream's subscribers hold); the newest
            // gives seq, checksum and ts; per level the newest size wins.
            if (!st.merged) st.merged = std::make_shared<BookDelta>(*st.newest->book);
            protocol::merge_levels(protocol::BookSide::bid, st.merged->bids, frame->book->bids);
            protocol::merge_levels(protocol::BookSide::ask, st.merged->asks, frame->book->asks);
            st.merged->seq = frame->book->seq;
            st.merged->ts_ns = frame->book->ts_ns;
            st.merged->checksum = frame->book->checksum;
        }
        st.newest = frame;
        st.newest_seq = seq;
        st.newest_offset = offset;
        if (!st.due) {
            st.due = true;
            due_[i].push_back(topic_id);
        }
    }
}

std::size_t SubscriptionRegistry::deliver_throttled(std::uint8_t rate, std::int64_t now_ns) {
    std::size_t queued = 0;
    std::vector<std::uint32_t> due;
    due.swap(due_[rate - 1]);
    for (const std::uint32_t id : due) {
        TopicState& t = topics_[id];
        ThrottledStream& st = (*t.throttled)[rate - 1];
        st.due = false;
        if (!st.newest) continue;  // emptied, or started over from a snapshot, since it was listed
        // One frame for the stream: the newest as it went out raw, or the merged book delta.
        const FramePtr frame = st.merged ? frames::book_delta(st.merged, id) : st.newest;
        throttled_encodes_ += st.merged != nullptr;
        const std::string_view channel = protocol::topic_channel(t.name);
        const std::uint64_t offset = socketio_offsets_ ? st.newest_offset : 0;
        FramePtr socketio;
        const auto for_wire = [&](Subscriber* s, const FramePtr& v1, FramePtr& sio) -> const FramePtr& {
            if (s->wire() != Wire::socketio) return v1;
            if (!sio) {
                sio = frames::socketio_live(*v1, channel, offset);
                ++throttled_encodes_;
            }
            return sio;
        };
        for (Subscriber* s : st.subscribers) {
            s->queue().push_live(for_wire(s, frame, socketio), now_ns);
            mark_dirty(*s);
        }
        queued += st.subscribers.size();
        for (const auto& [s, held] : st.joined) {
            if (held < st.newest_seq) {
                if (frame->book && held != st.sent_seq) {
                    // Joined between ticks with a newer state than the stream's last message: the
                    // same levels (each at its newest size) chained from what this one holds.
                    auto own_delta = std::make_shared<BookDelta>(*frame->book);
                    own_delta->prev_seq = held;
                    const FramePtr own = frames::book_delta(std::move(own_delta), id);
                    ++throttled_encodes_;
                    FramePtr own_socketio;
                    s->queue().push_live(for_wire(s, own, own_socketio), now_ns);
                } else {
                    s->queue().push_live(for_wire(s, frame, socketio), now_ns);
                }
                mark_dirty(*s);
                ++queued;
            }
            auto& c = s->membership_.coverage[id];
            c.joined = false;
            c.index = static_cast<std::uint32_t>(st.subscribers.size());
            st.subscribers.push_back(s);
        }
        st.joined.clear();
        st.sent_seq = st.newest_seq;
        st.newest.reset();
        st.merged.reset();
    }
    // Keep the list's capacity for the next tick unless something was listed meanwhile.
    if (due_[rate - 1].empty()) {
        due.clear();
        due_[rate - 1].swap(due);
    }
    return queued;
}

SubscriptionRegistry::SubscribeOutcome SubscriptionRegistry::subscribe(Subscriber& s,
                                                                       std::span<const std::string> entries,
                                                                       std::size_t max_entries,
                                                                       std::span<const std::string> publish_channels) {
    SubscribeOutcome out;
    const auto publishable = [&](std::string_view topic) {
        const auto channel = protocol::topic_channel(topic);
        return std::find(publish_channels.begin(), publish_channels.end(), channel) != publish_channels.end();
    };
    for (const std::string& entry : entries) {
        const auto parsed = protocol::parse_throttled_entry(entry);
        const auto kind = parsed.error.empty() ? parsed.kind : protocol::EntryKind::invalid;
        const auto rate = rate_of_interval(parsed.interval_ms);
        const bool exact_entry = kind == protocol::EntryKind::topic || kind == protocol::EntryKind::room;
        const bool room = exact_entry && protocol::is_room_topic(parsed.base) && publishable(parsed.base);
        if (kind == protocol::EntryKind::invalid || (kind == protocol::EntryKind::room && !room) || (room && rate > 0)) {
            out.malformed.push_back(entry);
            continue;
        }
        if (std::find(s.membership_.entries.begin(), s.membership_.entries.end(), entry) != s.membership_.entries.end()) {
            out.already_held.push_back(entry);
            continue;
        }
        std::optional<std::uint32_t> exact;
        if (exact_entry) {
            exact = find(parsed.base);
            if (!exact && !room) {
                out.unknown.push_back(entry);
                continue;
            }
            if (exact && rate > 0 && !throttleable(topics_[*exact])) {
                out.malformed.push_back(entry);  // a room or trade topic by another name
                continue;
            }
        }
        if (s.membership_.entries.size() >= max_entries) {
            out.over_limit.push_back(entry);
            continue;
        }
        s.membership_.entries.push_back(entry);
        out.added.push_back(entry);
        if (exact) {
            cover(s, *exact, rate, &out.newly_covered, &out.resync);
        } else if (room) {
            pending_rooms_[entry].insert(&s);
        } else {
            patterns_[entry].insert(&s);
            for (std::uint32_t id = 0; id < topics_.size(); ++id)
                if ((rate == 0 || throttleable(topics_[id])) && protocol::entry_matches(parsed.base, topics_[id].name))
                    cover(s, id, rate, &out.newly_covered, &out.resync);
        }
    }
    // A topic newly covered gets its snapshot anyway.
    std::erase_if(out.resync, [&](std::uint32_t id) {
        return std::find(out.newly_covered.begin(), out.newly_covered.end(), id) != out.newly_covered.end();
    });
    return out;
}

SubscriptionRegistry::UnsubscribeOutcome SubscriptionRegistry::unsubscribe(Subscriber& s,
                                                                           std::span<const std::string> entries) {
    UnsubscribeOutcome out;
    for (const std::string& entry : entries) {
        const auto parsed = protocol::parse_throttled_entry(entry);
        if (!parsed.error.empty() || parsed.kind == protocol::EntryKind::invalid) {
            out.malformed.push_back(entry);
            continue;
        }
        auto it = std::find(s.membership_.entries.begin(), s.membership_.entries.end(), entry);
        if (it == s.membership_.entries.end()) continue;  // not held: nothing to remove
        s.membership_.entries.erase(it);
        drop_entry(s, entry, &out.resync);
        out.removed.push_back(entry);
    }
    // A topic no longer covered at all needs nothing.
    std::erase_if(out.resync, [&](std::uint32_t id) { return !s.membership_.coverage.contains(id); });
    std::sort(out.resync.begin(), out.resync.end());
    out.resync.erase(std::unique(out.resync.begin(), out.resync.end()), out.resync.end());
    return out;
}

void SubscriptionRegistry::remove(Subscriber& s) {
    auto& m = s.membership_;
    for (const std::string& entry : m.entries) drop_entry(s, entry, nullptr);
    m.entries.clear();
}

void SubscriptionRegistry::release(Subscriber& s) {
    remove(s);
    auto& m = s.membership_;
    // A busy worker defers flushing across batches, so a session can end while still listed as
    // dirty; it must leave that list before it can be freed.
    if (m.dirty) {
        dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &s), dirty_.end());
        m.dirty = false;
    }
}

void SubscriptionRegistry::transfer(Subscriber& from, Subscriber& to) {
    auto& f = from.membership_;
    auto& t = to.membership_;
    for (const auto& [topic_id, c] : f.coverage) {
        TopicState& topic = topics_[topic_id];
        if (c.rate == 0) {
            topic.subscribers[c.index] = &to;
        } else {
            ThrottledStream& st = (*topic.throttled)[c.rate - 1];
            if (c.joined)
                st.joined[c.index].first = &to;
            else
                st.subscribers[c.index] = &to;
        }
    }
    for (const std::string& entry : f.entries) {
        if (auto it = patterns_.find(entry); it != patterns_.end() && it->second.erase(&from) > 0) it->second.insert(&to);
        if (auto it = pending_rooms_.find(entry); it != pending_rooms_.end() && it->second.erase(&from) > 0)
            it->second.insert(&to);
    }
    t.entries = std::move(f.entries);
    t.coverage = std::move(f.coverage);
    f.entries.clear();
    f.coverage.clear();
}

void SubscriptionRegistry::drop_entry(Subscriber& s, const std::string& entry, std::vector<std::uint32_t>* resync) {
    const auto parsed = protocol::parse_throttled_entry(entry);
    const auto rate = rate_of_interval(parsed.interval_ms);
    const auto kind = parsed.kind;
    if (kind == protocol::EntryKind::topic || kind == protocol::EntryKind::room) {
        if (auto id = find(parsed.base)) {
            uncover(s, *id, rate, resync);
        } else if (auto room = pending_rooms_.find(entry); room != pending_rooms_.end()) {
            room->second.erase(&s);
            if (room->second.empty()) pending_rooms_.erase(room);
        }
        return;
    }
    if (auto it = patterns_.find(entry); it != patterns_.end()) {
        it->second.erase(&s);
        if (it->second.empty()) patterns_.erase(it);
    }
    for (std::uint32_t id = 0; id < topics_.size(); ++id)
        if ((rate == 0 || throttleable(topics_[id])) && protocol::entry_matches(parsed.base, topics_[id].name))
            uncover(s, id, rate, resync);
}

void SubscriptionRegistry::cover(Subscriber& s, std::uint32_t topic_id, std::uint8_t rate,
                                 std::vector<std::uint32_t>* newly_covered, std::vector<std::uint32_t>* resync) {
    auto [it, inserted] = s.membership_.coverage.try_emplace(topic_id);
    Subscriber::Coverage& c = it->second;
    ++c.entries[rate];
    if (inserted) {
        c.rate = rate;
        place(s, topic_id, c, current_seq(topics_[topic_id]));  // its snapshot follows the ack
        if (newly_covered) newly_covered->push_back(topic_id);
        return;
    }
    if (rate >= c.rate) return;  // delivered at this rate or a faster one already
    const std::uint64_t held = unplace(s, topic_id, c);
    c.rate = rate;
    if (place(s, topic_id, c, held) && resync) resync->push_back(topic_id);
}

void SubscriptionRegistry::uncover(Subscriber& s, std::uint32_t topic_id, std::uint8_t rate,
                                   std::vector<std::uint32_t>* resync) {
    auto it = s.membership_.coverage.find(topic_id);
    if (it == s.membership_.coverage.end() || it->second.entries[rate] == 0) return;
    Subscriber::Coverage& c = it->second;
    --c.entries[rate];
    if (c.total() == 0) {
        unplace(s, topic_id, c);
        s.membership_.coverage.erase(it);
        s.queue().forget_topic(topic_id);
        return;
    }
    if (rate != c.rate || c.entries[rate] > 0) return;
    // Its fastest rate is gone: the next fastest it holds.
    std::uint8_t next = rate;
    while (c.entries[next] == 0) ++next;
    const std::uint64_t held = unplace(s, topic_id, c);
    c.rate = next;
    if (place(s, topic_id, c, held) && resync) resync->push_back(topic_id);
}

bool SubscriptionRegistry::place(Subscriber& s, std::uint32_t topic_id, Subscriber::Coverage& c, std::uint64_t held) {
    TopicState& t = topics_[topic_id];
    if (c.rate == 0) {
        c.joined = false;
        c.index = static_cast<std::uint32_t>(t.subscribers.size());
        t.subscribers.push_back(&s);
        // Raw goes on from the topic's current seq: a client holding less gets it as a snapshot.
        return t.has_value && held != current_seq(t);
    }
    if (!t.throttled) t.throttled = std::make_unique<ThrottledStreams>();
    ThrottledStream& st = (*t.throttled)[c.rate - 1];
    if (st.empty()) {
        st.sent_seq = current_seq(t);
        ++stream_count_;
    }
    // A client behind the stream's last message (it came from a rate that ticked less recently)
    // could not chain a book from the next one, nor would it see a ticker's newest soon: it gets
    // the current value as a snapshot.
    bool snapshot = false;
    if (t.has_value && held < st.sent_seq) {
        snapshot = true;
        held = current_seq(t);
    }
    if (held == st.sent_seq) {
        c.joined = false;
        c.index = static_cast<std::uint32_t>(st.subscribers.size());
        st.subscribers.push_back(&s);
    } else {
        c.joined = true;
        c.index = static_cast<std::uint32_t>(st.joined.size());
        st.joined.emplace_back(&s, held);
    }
    if (throttled_count_[c.rate - 1]++ == 0 && on_throttled_) on_throttled_();
    return snapshot;
}

std::uint64_t SubscriptionRegistry::unplace(Subscriber& s, std::uint32_t topic_id, Subscriber::Coverage& c) {
    TopicState& t = topics_[topic_id];
    const auto swap_out = [&](std::vector<Subscriber*>& list) {
        Subscriber* moved = list.back();
        list[c.index] = moved;
        moved->membership_.coverage[topic_id].index = c.index;
        list.pop_back();
    };
    if (c.rate == 0) {
        swap_out(t.subscribers);
        return current_seq(t);
    }
    ThrottledStream& st = (*t.throttled)[c.rate - 1];
    std::uint64_t held = st.sent_seq;
    if (c.joined) {
        held = st.joined[c.index].second;
        const auto moved = st.joined.back();
        st.joined[c.index] = moved;
        moved.first->membership_.coverage[topic_id].index = c.index;
        st.joined.pop_back();
    } else {
        swap_out(st.subscribers);
    }
    --throttled_count_[c.rate - 1];
    if (st.empty()) {
        --stream_count_;
        st.newest.reset();
        st.merged.reset();
    }
    (void)s;
    return held;
}

std::optional<std::uint32_t> SubscriptionRegistry::find(std::string_view topic) const {
    auto it = ids_.find(topic);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string_view> SubscriptionRegistry::topic_names() const {
    std::vector<std::string_view> names;
    names.reserve(topics_.size());
    for (const auto& t : topics_) names.push_back(t.name);
    return names;
}

}  // namespace tickgate::gateway
