#include "protocol/model/order_book.hpp"

#include <libdeflate.h>

#include <algorithm>
#include <cstring>

namespace tickgate::protocol {
namespace {

/// True when price `a` comes before price `b` on the side (bids: higher first, asks: lower first).
template <BookSide S>
inline bool better(std::int64_t a, std::int64_t b) noexcept {
    if constexpr (S == BookSide::bid) {
        return a > b;
    } else {
        return a < b;
    }
}

/// The rank of `price` on a side of `n` levels: the first level whose price is not better than
/// `price`. Branchless (the compare becomes a conditional move): 6 dependent loads for 50 levels and
/// no mispredicted branch, where std::lower_bound mispredicts about half of its steps.
template <BookSide S>
inline std::size_t rank_of(const BookLevel* levels, std::size_t n, std::int64_t price) noexcept {
    if (n == 0) return 0;
    const BookLevel* base = levels;
    while (n > 1) {
        const std::size_t half = n / 2;
        base = better<S>(base[half].price, price) ? base + half : base;
        n -= half;
    }
    return static_cast<std::size_t>(base - levels) + better<S>(base->price, price);
}

inline void write_size(BookLevel& l, std::int64_t size, int size_decimals) noexcept {
    l.size = size;
    l.size_len = static_cast<std::uint8_t>(format_decimal(l.text + l.price_len + 1, size, size_decimals));
}

inline void write_level(BookLevel& l, std::int64_t price, std::int64_t size, int price_decimals,
                        int size_decimals) noexcept {
    l.price = price;
    l.price_len = static_cast<std::uint8_t>(format_decimal(l.text, price, price_decimals));
    l.text[l.price_len] = ':';
    write_size(l, size, size_decimals);
}

// The longest price text (21 characters: 19 digits, a sign and a point) plus ':' plus the room
// format_decimal needs for the size must fit the level's text.
static_assert(21 + 1 + kMaxDecimalChars <= sizeof(BookLevel::text));

/// Copies the first kChecksumDepth levels' "price:size" joined by ',' to `p`. Each piece is copied
/// as a fixed 32 bytes when it fits (one vector store instead of a variable-length memcpy call);
/// the buffer has the slack for it.
inline char* put_checksum_side(char* p, std::span<const BookLevel> levels) noexcept {
    const std::size_t n = std::min(levels.size(), kChecksumDepth);
    for (std::size_t i = 0; i < n; ++i) {
        const BookLevel& l = levels[i];
        const std::size_t len = std::size_t{l.price_len} + 1 + l.size_len;
        if (len <= 32) {
            std::memcpy(p, l.text, 32);
        } else {
            std::memcpy(p, l.text, len);
        }
        p += len;
        *p++ = ',';
    }
    return p - (n != 0);  // no ',' after the last piece
}

constexpr std::size_t kChecksumBuffer = 2 * kChecksumDepth * (sizeof(BookLevel::text) + 1) + 1 + 32;

template <BookSide S>
void diff_side(std::span<const PriceLevel> before, std::span<const BookLevel> after, std::size_t depth,
               std::vector<PriceLevel>& out) {
    const std::size_t nb = std::min(before.size(), depth);
    const std::size_t na = std::min(after.size(), depth);
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < nb && j < na) {
        const std::int64_t pb = before[i].price;
        const std::int64_t pa = after[j].price;
        if (pb == pa) {
            if (before[i].size != after[j].size) out.push_back({pa, after[j].size});
            ++i;
            ++j;
        } else if (better<S>(pb, pa)) {
            out.push_back({pb, 0});  // left the view (removed, or pushed below it)
            ++i;
        } else {
            out.push_back({pa, after[j].size});  // entered the view (added, or came up from below)
            ++j;
        }
    }
    for (; i < nb; ++i) out.push_back({before[i].price, 0});
    for (; j < na; ++j) out.push_back({after[j].price, after[j].size});
}

template <BookSide S>
void merge_side(std::vector<PriceLevel>& older, std::span<const PriceLevel> newer) {
    if (newer.empty()) return;
    if (older.empty()) {
        older.assign(newer.begin(), newer.end());
        return;
    }
    // Merge from the worst end into the grown vector, so no scratch space is needed: the write
    // position stays above the next unread older level (it leads it by the newer levels left plus
    // the duplicates met), then the hole the duplicates left is closed.
    const auto n_old = static_cast<std::ptrdiff_t>(older.size());
    older.resize(older.size() + newer.size());
    std::ptrdiff_t i = n_old - 1;
    auto j = static_cast<std::ptrdiff_t>(newer.size()) - 1;
    auto w = static_cast<std::ptrdiff_t>(older.size()) - 1;
    while (j >= 0) {
        if (i >= 0 && older[i].price == newer[j].price) {
            older[w--] = newer[j--];  // the newer size wins
            --i;
        } else if (i >= 0 && better<S>(newer[j].price, older[i].price)) {
            older[w--] = older[i--];
        } else {
            older[w--] = newer[j--];
        }
    }
    // older[0, i] are in place; older[i + 1, w] is the hole.
    older.erase(older.begin() + (i + 1), older.begin() + (w + 1));
}

}  // namespace

void OrderBook::set_decimals(std::uint8_t price_decimals, std::uint8_t size_decimals) noexcept {
    price_decimals_ = price_decimals;
    size_decimals_ = size_decimals;
    // Meant for an empty book; on a non-empty one the texts are rewritten so they never disagree
    // with the decimals.
    for (Side* s : {&bids_, &asks_}) {
        for (std::size_t i = 0; i < s->count; ++i) {
            BookLevel& l = s->levels[i];
            write_level(l, l.price, l.size, price_decimals_, size_decimals_);
        }
    }
}

template <BookSide S>
void OrderBook::apply_side(std::int64_t price, std::int64_t size) noexcept {
    Side& s = side(S);
    BookLevel* const lv = s.levels.data();
    const std::size_t n = s.count;
    const std::size_t i = rank_of<S>(lv, n, price);
    if (size < 0) size = 0;

    if (i < n && lv[i].price == price) {
        if (size != 0) {
            if (lv[i].size != size) write_size(lv[i], size, size_decimals_);
        } else {
            std::memmove(lv + i, lv + i + 1, (n - i - 1) * sizeof(BookLevel));
            s.count = n - 1;
        }
        return;
    }
    if (size == 0) return;  // removal of an absent level
    if (i == capacity_) return;  // would be the (capacity + 1)-th
    // Make room at i; on a full side the worst level falls off the end.
    const std::size_t moved = (n == capacity_ ? n - 1 : n) - i;
    std::memmove(lv + i + 1, lv + i, moved * sizeof(BookLevel));
    s.count = i + moved + 1;
    write_level(lv[i], price, size, price_decimals_, size_decimals_);
}

void OrderBook::apply(BookSide side, std::int64_t price, std::int64_t size) noexcept {
    if (side == BookSide::bid) {
        apply_side<BookSide::bid>(price, size);
    } else {
        apply_side<BookSide::ask>(price, size);
    }
}

void OrderBook::clear() noexcept {
    bids_.count = 0;
    asks_.count = 0;
}

std::span<const BookLevel> OrderBook::levels(BookSide s) const noexcept {
    const Side& x = side(s);
    return {x.levels.data(), x.count};
}

std::uint32_t OrderBook::checksum() const noexcept {
    char buf[kChecksumBuffer];
    char* p = put_checksum_side(buf, levels(BookSide::ask));
    *p++ = '|';
    p = put_checksum_side(p, levels(BookSide::bid));
    return libdeflate_crc32(0, buf, static_cast<std::size_t>(p - buf));
}

std::string OrderBook::checksum_string() const {
    char buf[kChecksumBuffer];
    char* p = put_checksum_side(buf, levels(BookSide::ask));
    *p++ = '|';
    p = put_checksum_side(p, levels(BookSide::bid));
    return {buf, static_cast<std::size_t>(p - buf)};
}

// libdeflate's crc32 is zlib's (the same CRC-32, the same start and end), computed with carry-less
// multiplication where the CPU has it; tests/protocol/order_book_test.cpp checks it against zlib.
std::uint32_t checksum_of(std::string_view text) noexcept { return libdeflate_crc32(0, text.data(), text.size()); }

void copy_levels(std::span<const BookLevel> levels, std::size_t depth, std::vector<PriceLevel>& out) {
    const std::size_t n = std::min(levels.size(), depth);
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = {levels[i].price, levels[i].size};
}

void diff_view(BookSide side, std::span<const PriceLevel> before, std::span<const BookLevel> after, std::size_t depth,
               std::vector<PriceLevel>& out) {
    if (side == BookSide::bid) {
        diff_side<BookSide::bid>(before, after, depth, out);
    } else {
        diff_side<BookSide::ask>(before, after, depth, out);
    }
}

void merge_levels(BookSide side, std::vector<PriceLevel>& older, std::span<const PriceLevel> newer) {
    if (side == BookSide::bid) {
        merge_side<BookSide::bid>(older, newer);
    } else {
        merge_side<BookSide::ask>(older, newer);
    }
}

}  // namespace tickgate::protocol
