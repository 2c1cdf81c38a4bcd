#include "feeds/bus_books.hpp"

namespace tickgate::feeds {
namespace tp = protocol;

BusBookAssembler::Book* BusBookAssembler::book_for(std::string_view topic, const tp::BusBookRecord& r,
                                                   std::vector<tp::MarketUpdate>& out) {
    auto it = books_.find(topic);
    if (it != books_.end()) return &it->second;
    if (books_.size() >= max_books_) return nullptr;
    it = books_.emplace(std::string(topic), Book{}).first;
    ++waiting_;
    // The engine learns of the book now, before it has a base: an empty change at seq 0 changes
    // no view, so subscribers wait for the first real one.
    // With the record's decimals: the engine takes a book's (and its views') from its first change.
    const tp::BusBookChange c = r.change();
    tp::MarketUpdate announce;
    announce.kind = tp::UpdateKind::book;
    announce.set_topic(topic);
    announce.price_decimals = c.price_decimals;
    announce.size_decimals = c.size_decimals;
    announce.book.count = 0;
    announce.book.ask_mask = 0;
    announce.book.flags = tp::kBookFirst | tp::kBookLast;
    out.push_back(announce);
    return &it->second;
}

void BusBookAssembler::forward(std::string_view topic, const tp::BusBookRecord& r, std::vector<tp::MarketUpdate>& out) {
    tp::for_each_book_fragment(r, [&](const tp::MarketUpdate& f) {
        out.push_back(f);
        out.back().set_topic(topic);
    });
}

void BusBookAssembler::buffer(Book& b, std::string_view body) {
    if (b.buffered.size() >= max_buffered_) {
        b.buffered.pop_front();
        ++buffer_drops_;
    }
    b.buffered.emplace_back(body);
}

void BusBookAssembler::set_ready(Book& b, bool ready) {
    if (b.ready == ready) return;
    b.ready = ready;
    if (ready)
        --waiting_;
    else
        ++waiting_;
}

void BusBookAssembler::drain_buffer(std::string_view topic, Book& b, std::vector<tp::MarketUpdate>& out) {
    while (!b.buffered.empty()) {
        const tp::BusBookRecord r(b.buffered.front());
        const std::uint64_t seq = r.seq();
        if (seq <= b.last_seq) {
            b.buffered.pop_front();
            continue;
        }
        if (seq != b.last_seq + 1 && !r.reset()) {
            set_ready(b, false);  // the rest waits for a keyframe they continue
            return;
        }
        forward(topic, r, out);
        b.last_seq = seq;
        b.buffered.pop_front();
    }
}

BusBookAssembler::Outcome BusBookAssembler::on_delta(std::string_view topic, const tp::BusBookRecord& r,
                                                     std::vector<tp::MarketUpdate>& out) {
    Book* b = book_for(topic, r, out);
    if (!b) return Outcome::over_limit;
    const std::uint64_t seq = r.seq();
    if (seq <= b->last_seq) return Outcome::duplicate;
    if (r.reset()) {
        // The whole book (the publisher's first change of it): a base whatever came before, as a
        // keyframe is; what was buffered is older than it.
        const bool was_ready = b->ready;
        b->buffered.clear();
        apply_keyframe(topic, *b, r, out);
        return was_ready ? Outcome::forwarded : Outcome::became_ready;
    }
    if (!b->ready) {
        if (!b->held_keyframe.empty()) {
            // Older than the keyframe (it holds this change already): the keyframe stays held.
            if (seq <= tp::BusBookRecord(b->held_keyframe).seq()) return Outcome::duplicate;
            const std::string held = std::move(b->held_keyframe);
            b->held_keyframe.clear();
            const tp::BusBookRecord k(held);
            if (seq == k.seq() + 1) {
                apply_keyframe(topic, *b, k, out);
                forward(topic, r, out);
                b->last_seq = seq;
                return Outcome::became_ready;
            }
            // Changes between the keyframe and this delta never came here: the next keyframe will do.
        }
        buffer(*b, r.body());
        return Outcome::buffered;
    }
    if (seq != b->last_seq + 1) {
        set_ready(*b, false);
        buffer(*b, r.body());
        return Outcome::gap;
    }
    forward(topic, r, out);
    b->last_seq = seq;
    return Outcome::forwarded;
}

BusBookAssembler::Outcome BusBookAssembler::on_keyframe(std::string_view topic, const tp::BusBookRecord& r,
                                                        std::vector<tp::MarketUpdate>& out) {
    Book* b = book_for(topic, r, out);
    if (!b) return Outcome::over_limit;
    const std::uint64_t seq = r.seq();
    // What the book holds already, or a keyframe the buffered deltas do not continue (they start
    // further on: the changes between are lost).
    if (seq <= b->last_seq) return Outcome::stale_keyframe;
    if (!b->ready && !b->buffered.empty()) {
        const std::uint64_t first = tp::BusBookRecord(b->buffered.front()).seq();
        if (first > seq + 1) return Outcome::stale_keyframe;
    }
    if (!b->ready && b->buffered.empty()) {
        // Nothing yet to tell whether live deltas continue it, unless it is the second keyframe
        // with no delta between: a quiet book (or a publisher gone), whose keyframe is its state.
        if (b->held_keyframe.empty() || tp::BusBookRecord(b->held_keyframe).seq() > seq) {
            b->held_keyframe.assign(r.body());
            return Outcome::held;
        }
        b->held_keyframe.clear();
    }
    // A keyframe newer than a ready book's last change means changes went missing without a gap
    // showing (none came after them yet): the keyframe is the truth either way.
    const bool was_ready = b->ready;
    apply_keyframe(topic, *b, r, out);
    return was_ready ? Outcome::forwarded : Outcome::became_ready;
}

void BusBookAssembler::apply_keyframe(std::string_view topic, Book& b, const tp::BusBookRecord& r,
                                      std::vector<tp::MarketUpdate>& out) {
    if (r.reset()) {
        forward(topic, r, out);
    } else {
        // Applied as a reset whatever its flag says: a keyframe is the whole book.
        tp::BusBookChange c = r.change();
        c.reset = true;
        std::vector<tp::BusBookLevel> levels;
        levels.reserve(r.level_count());
        for (std::size_t i = 0; i < r.level_count(); ++i) levels.push_back(r.level(i));
        std::string body(tp::book_record_size(levels.size()), '\0');
        tp::encode_book_record(c, levels, reinterpret_cast<std::byte*>(body.data()));
        forward(topic, tp::BusBookRecord(std::string_view(body).substr(tp::kBusRecordHeaderSize)), out);
    }
    b.held_keyframe.clear();
    b.last_seq = r.seq();
    set_ready(b, true);
    drain_buffer(topic, b, out);
}

void BusBookAssembler::reset_all() {
    for (auto& [topic, b] : books_) {
        b.last_seq = 0;
        b.buffered.clear();
        b.held_keyframe.clear();
        set_ready(b, false);
    }
}

bool BusBookAssembler::ready(std::string_view topic) const {
    auto it = books_.find(topic);
    return it != books_.end() && it->second.ready;
}

std::uint64_t BusBookAssembler::last_seq(std::string_view topic) const {
    auto it = books_.find(topic);
    return it == books_.end() ? 0 : it->second.last_seq;
}

}  // namespace tickgate::feeds
