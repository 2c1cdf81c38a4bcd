#include "bench/load/book_tracker.hpp"

#include <zlib.h>

#include <cstring>

namespace tickgate::load {

bool price_key(std::string_view price, unsigned __int128& key) noexcept {
    std::uint64_t whole = 0, fraction = 0;
    int whole_digits = 0, fraction_digits = 0;
    bool dot = false;
    for (const char c : price) {
        if (c == '.') {
            if (dot) return false;
            dot = true;
            continue;
        }
        const unsigned d = static_cast<unsigned char>(c) - '0';
        if (d > 9) return false;
        if (dot) {
            if (++fraction_digits > 18) return false;
            fraction = fraction * 10 + d;
        } else {
            if (++whole_digits > 19) return false;
            whole = whole * 10 + d;
        }
    }
    if (whole_digits == 0 && fraction_digits == 0) return false;
    for (int i = fraction_digits; i < 18; ++i) fraction *= 10;
    key = static_cast<unsigned __int128>(whole) << 64 | fraction;
    return true;
}

bool is_zero_size(std::string_view size) noexcept {
    bool digit = false;
    for (const char c : size) {
        if (c == '0') digit = true;
        else if (c != '.') return false;
    }
    return digit;
}

bool BookSide::apply(std::string_view price, std::string_view size) noexcept {
    unsigned __int128 key;
    if (!price_key(price, key) || size.empty()) return false;
    // Levels of a message come best first: search on from the previous one. Out of order (which a
    // server should not send), search from the top, so the book stays right either way.
    if (cursor_ > 0 && !better(last_key_, key)) cursor_ = 0;
    last_key_ = key;
    std::size_t i = cursor_;
    const std::size_t n = levels_.size();
    while (i < n && better(levels_[i].key, key)) ++i;
    const bool found = i < n && levels_[i].key == key;
    cursor_ = i;
    if (is_zero_size(size)) {
        if (found) levels_.erase(levels_.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
    }
    for (const char c : size)
        if (static_cast<unsigned>(c - '0') > 9u && c != '.') return false;
    if (price.size() + 1 + size.size() > BookLevel::kTextSize) return false;
    if (!found) {
        if (n >= kMaxLevels) return false;
        levels_.emplace(levels_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    BookLevel& l = levels_[i];
    l.key = key;
    l.price_size = static_cast<std::uint8_t>(price.size());
    l.size_size = static_cast<std::uint8_t>(size.size());
    std::memcpy(l.text, price.data(), price.size());
    l.text[price.size()] = ':';
    std::memcpy(l.text + price.size() + 1, size.data(), size.size());
    return true;
}

char* BookSide::append_checksum_text(char* out, std::size_t n) const noexcept {
    n = std::min(n, levels_.size());
    // A copy of the whole fixed-size text is a few vector moves; one of its length would be a
    // library call (or rep movsb) per level, which cost more than the crc32 itself.
    for (std::size_t i = 0; i < n; ++i) {
        const BookLevel& l = levels_[i];
        std::memcpy(out, l.text, BookLevel::kTextSize);
        out += l.text_size();
        *out++ = ',';
    }
    return n > 0 ? out - 1 : out;
}

std::size_t ClientBook::checksum_text(char* out) const noexcept {
    char* p = asks.append_checksum_text(out, 10);
    *p++ = '|';
    p = bids.append_checksum_text(p, 10);
    return static_cast<std::size_t>(p - out);
}

std::uint32_t ClientBook::checksum() const noexcept {
    char text[kChecksumTextMax];
    return crc32_of(std::string_view(text, checksum_text(text)));
}

std::uint32_t crc32_of(std::string_view text) noexcept {
    return static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
}

bool BookTracker::apply_side(std::string_view text, std::size_t at, BookSide& side, std::size_t& end) noexcept {
    LevelReader reader(text, at);
    side.begin_message();
    std::string_view price, size;
    bool ok = true;
    while (reader.next(price, size)) ok = side.apply(price, size) && ok;
    end = reader.end();
    return ok && !reader.error();
}

void BookTracker::fault(std::string_view kind, const ScannedMessage& m, std::string_view text, std::string_view detail) {
    if (!first_fault_.empty()) return;
    first_fault_.append(kind).append(" on ").append(m.topic).append(" at seq ").append(std::to_string(m.seq));
    if (!detail.empty()) first_fault_.append(": ").append(detail);
    first_fault_.append("; message: ").append(text.substr(0, 4000));
}

void BookTracker::on_message(std::string_view text, const ScannedMessage& m, Channel channel) {
    const std::size_t known = slots_.size();
    const std::uint32_t slot = slots_.find_or_add(m.topic);
    if (slot == known) books_.emplace_back();
    ClientBook& book = books_[slot];
    BookCounts& c = counts_[channel == Channel::book50 ? 1 : 0];
    ++c.messages;

    if (m.snapshot) {
        ++c.snapshots;
        book.bids.clear();
        book.asks.clear();
        book.valid = true;
    } else {
        std::uint64_t prev = 0;
        const bool has_prev = read_uint(text, find_value(text, "\"prev_seq\":", m.seq_at), prev);
        // A delta before any snapshot breaks the chain as surely as a wrong prev_seq: there is no
        // state it could apply to. Either way it is counted once, and the chain goes on from it.
        // A delta that broke the chain is still applied and checked below: if the levels still
        // match, the break was in the numbering only, and the book stays checked.
        if (!(book.seen && has_prev && prev == book.last_seq && m.seq > prev)) {
            ++c.chain_breaks;
            fault("chain break", m, text,
                  !book.seen ? std::string("a delta before any snapshot")
                             : "last seq " + std::to_string(book.last_seq) +
                                   (has_prev ? ", prev_seq " + std::to_string(prev) : std::string(", no prev_seq")));
        }
    }
    book.seen = true;
    book.last_seq = m.seq;
    if (!book.valid) {
        // Known wrong (or never built): nothing to check against until a snapshot replaces it.
        ++c.unverified;
        return;
    }
    std::size_t end = m.fields_end;
    std::uint64_t expected = 0;
    const bool read_ok = apply_side(text, find_value(text, "\"bids\":", end), book.bids, end) &&
                         apply_side(text, find_value(text, "\"asks\":", end), book.asks, end) &&
                         read_uint(text, find_value(text, "\"checksum\":", end), expected) && expected <= 0xFFFFFFFFu;
    if (!read_ok) {
        ++c.malformed;
        fault("malformed book message", m, text);
        book.valid = false;
        return;
    }
    const std::size_t depth = channel == Channel::book50 ? 50 : 10;
    if (book.bids.depth() > depth || book.asks.depth() > depth) ++c.depth_exceeded;
    char checked[ClientBook::kChecksumTextMax];
    const std::string_view checked_text(checked, book.checksum_text(checked));
    if (const auto got = crc32_of(checked_text); got != static_cast<std::uint32_t>(expected)) {
        ++c.checksum_failures;
        fault("checksum failure", m, text,
              "crc32 " + std::to_string(got) + " of \"" + std::string(checked_text) + "\" (book " +
                  std::to_string(book.bids.depth()) + " bids, " + std::to_string(book.asks.depth()) + " asks)");
        book.valid = false;  // later messages cannot be checked against a wrong book
    }
}

}  // namespace tickgate::load
