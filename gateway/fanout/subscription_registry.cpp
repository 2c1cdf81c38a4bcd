#include "gateway/fanout/subscription_registry.hpp"

#include <algorithm>
#include <utility>

#include "gateway/fanout/frame_encoder.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {
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
        for (Subscriber* s : room->second) cover(*s, id, nullptr);
        pending_rooms_.erase(room);
    }
    for (auto& [pattern, holders] : patterns_)
        if (protocol::entry_matches(pattern, t.name))
            for (Subscriber* s : holders) cover(*s, id, nullptr);
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
            return deliver_first_snapshot(topic, now_ns);
        }
    } else {
        store_latest(topic_id, update);
        if (fresh && update.kind == protocol::UpdateKind::ticker) return deliver_ticker_snapshot(topic, now_ns);
    }
    FramePtr socketio_frame;
    for (Subscriber* s : topic.subscribers) {
        const FramePtr* f = &frame;
        if (s->wire() == Wire::socketio) {
            if (!socketio_frame) socketio_frame = frames::socketio_live(*frame, protocol::topic_channel(topic.name),
                                                       socketio_offsets_ ? offset : 0);
            f = &socketio_frame;
        }
        s->queue().push_live(*f, now_ns);
        if (!s->membership_.dirty) {
            s->membership_.dirty = true;
            dirty_.push_back(s);
        }
    }
}

void SubscriptionRegistry::deliver_first_snapshot(TopicState& topic, std::int64_t now_ns) {
    std::string v1, socketio;  // built on first need, once per wire
    for (Subscriber* s : topic.subscribers) {
        std::string& bytes = s->wire() == Wire::socketio ? socketio : v1;
        if (bytes.empty())
            frames::book_snapshot(topic.name, topic.book_seq, topic.book_ts_ns, *topic.book, s->wire(), bytes);
        if (!s->queue().push_control(bytes, now_ns)) s->queue().mark_overflowed();
        if (!s->membership_.dirty) {
            s->membership_.dirty = true;
            dirty_.push_back(s);
        }
    }
}

void SubscriptionRegistry::deliver_ticker_snapshot(TopicState& topic, std::int64_t now_ns) {
    std::string v1, socketio;  // built on first need, once per wire
    for (Subscriber* s : topic.subscribers) {
        std::string& bytes = s->wire() == Wire::socketio ? socketio : v1;
        if (bytes.empty()) frames::snapshot(topic.latest, s->wire(), bytes);
        if (!s->queue().push_control(bytes, now_ns)) s->queue().mark_overflowed();
        if (!s->membership_.dirty) {
            s->membership_.dirty = true;
            dirty_.push_back(s);
        }
    }
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
        const auto kind = protocol::classify_entry(entry);
        const bool exact_entry = kind == protocol::EntryKind::topic || kind == protocol::EntryKind::room;
        const bool room = exact_entry && protocol::is_room_topic(entry) && publishable(entry);
        if (kind == protocol::EntryKind::invalid || (kind == protocol::EntryKind::room && !room)) {
            out.malformed.push_back(entry);
            continue;
        }
        if (std::find(s.membership_.entries.begin(), s.membership_.entries.end(), entry) != s.membership_.entries.end()) {
            out.already_held.push_back(entry);
            continue;
        }
        std::optional<std::uint32_t> exact;
        if (exact_entry) {
            exact = find(entry);
            if (!exact && !room) {
                out.unknown.push_back(entry);
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
            cover(s, *exact, &out.newly_covered);
        } else if (room) {
            pending_rooms_[entry].insert(&s);
        } else {
            patterns_[entry].insert(&s);
            for (std::uint32_t id = 0; id < topics_.size(); ++id)
                if (protocol::entry_matches(entry, topics_[id].name)) cover(s, id, &out.newly_covered);
        }
    }
    return out;
}

SubscriptionRegistry::UnsubscribeOutcome SubscriptionRegistry::unsubscribe(Subscriber& s,
                                                                           std::span<const std::string> entries) {
    UnsubscribeOutcome out;
    for (const std::string& entry : entries) {
        if (protocol::classify_entry(entry) == protocol::EntryKind::invalid) {
            out.malformed.push_back(entry);
            continue;
        }
        auto it = std::find(s.membership_.entries.begin(), s.membership_.entries.end(), entry);
        if (it == s.membership_.entries.end()) continue;  // not held: nothing to remove
        s.membership_.entries.erase(it);
        drop_entry(s, entry);
        out.removed.push_back(entry);
    }
    return out;
}

void SubscriptionRegistry::remove(Subscriber& s) {
    auto& m = s.membership_;
    for (const std::string& entry : m.entries) drop_entry(s, entry);
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
    for (const auto& [topic_id, coverage] : f.coverage) topics_[topic_id].subscribers[coverage.index] = &to;
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

void SubscriptionRegistry::drop_entry(Subscriber& s, const std::string& entry) {
    const auto kind = protocol::classify_entry(entry);
    if (kind == protocol::EntryKind::topic || kind == protocol::EntryKind::room) {
        if (auto id = find(entry)) {
            uncover(s, *id);
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
        if (protocol::entry_matches(entry, topics_[id].name)) uncover(s, id);
}

void SubscriptionRegistry::cover(Subscriber& s, std::uint32_t topic_id, std::vector<std::uint32_t>* newly_covered) {
    auto [it, inserted] = s.membership_.coverage.try_emplace(topic_id);
    if (inserted) {
        auto& list = topics_[topic_id].subscribers;
        it->second.index = static_cast<std::uint32_t>(list.size());
        list.push_back(&s);
        if (newly_covered) newly_covered->push_back(topic_id);
    }
    ++it->second.entries;
}

void SubscriptionRegistry::uncover(Subscriber& s, std::uint32_t topic_id) {
    auto it = s.membership_.coverage.find(topic_id);
    if (it == s.membership_.coverage.end() || --it->second.entries > 0) return;
    auto& list = topics_[topic_id].subscribers;
    const std::uint32_t index = it->second.index;
    Subscriber* moved = list.back();
    list[index] = moved;
    moved->membership_.coverage[topic_id].index = index;
    list.pop_back();
    s.membership_.coverage.erase(it);
    s.queue().forget_topic(topic_id);
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
