#pragma once
// An L2 order book of one symbol: up to kMaxBookDepth price levels per side, best first (bids
// descending, asks ascending), as fixed-point mantissas. Each level also keeps its text
// ("64999.50:0.2500"), written once when the level changes, because the checksum and every
// message need the exact strings and formatting them again for each message would cost more than
// the rest of the message.
//
// The gateway keeps one per symbol as the source of the book views (book.<SYM>, book50.<SYM>), the
// simulator one per symbol as what it publishes, and the tests one per subscription as the
// client's reference.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/decimal.hpp"

namespace tickgate::protocol {

/// Levels per side a source publishes, a book keeps by default, and the deepest view (book50) shows.
inline constexpr std::size_t kMaxBookDepth = 50;
/// The most levels per side a book can be made to keep. The gateway's source books keep this many,
/// so a change that adds a level before it removes another (a source may order a change's levels
/// any way) never pushes out a level the source still has.
inline constexpr std::size_t kBookCapacity = 64;
/// Levels per side the checksum covers, in every view.
inline constexpr std::size_t kChecksumDepth = 10;
/// The views the gateway derives from a source book, and their channel names.
inline constexpr std::size_t kBookViewDepth = 10;
inline constexpr std::size_t kBook50ViewDepth = 50;

enum class BookSide : std::uint8_t { bid = 0, ask = 1 };

/// A level as a change or as a state: the level's total size (0 in a change removes it).
struct PriceLevel {
    std::int64_t price = 0;
    std::int64_t size = 0;
    friend bool operator==(const PriceLevel&, const PriceLevel&) = default;
};

/// A book level with its text: "price:size", price and size written with the book's decimals.
struct BookLevel {
    std::int64_t price = 0;
    std::int64_t size = 0;
    std::uint8_t price_len = 0;  // text[0, price_len) is the price
    std::uint8_t size_len = 0;   // text[price_len + 1, price_len + 1 + size_len) is the size
    char text[2 * kMaxDecimalChars + 2] = {};

    std::string_view price_text() const noexcept { return {text, price_len}; }
    std::string_view size_text() const noexcept { return {text + price_len + 1, size_len}; }
    /// "price:size", the checksum's piece.
    std::string_view checksum_text() const noexcept { return {text, std::size_t{price_len} + 1 + size_len}; }
};

class OrderBook {
public:
    /// capacity: levels per side kept, at most kBookCapacity.
    OrderBook(std::uint8_t price_decimals = 2, std::uint8_t size_decimals = 4,
              std::size_t capacity = kMaxBookDepth) noexcept
        : price_decimals_(price_decimals), size_decimals_(size_decimals),
          capacity_(capacity < kBookCapacity ? capacity : kBookCapacity) {}

    std::uint8_t price_decimals() const noexcept { return price_decimals_; }
    std::uint8_t size_decimals() const noexcept { return size_decimals_; }
    /// Changes the decimals (a book after a reset). Meant for an empty book; on a non-empty one the
    /// levels' texts are rewritten with the new decimals (the mantissas are kept).
    void set_decimals(std::uint8_t price_decimals, std::uint8_t size_decimals) noexcept;

    /// Sets the level at `price` to `size` (inserting it in order), or removes it when size is 0
    /// (a removal of an absent level is a no-op). A new level that would be the side's
    /// (capacity + 1)-th is not kept; a new level better than the worst of a full side pushes
    /// the worst out. Negative sizes are treated as 0. No allocation.
    void apply(BookSide side, std::int64_t price, std::int64_t size) noexcept;
    void clear() noexcept;

    /// The side's levels, best first.
    std::span<const BookLevel> levels(BookSide side) const noexcept;
    std::size_t depth(BookSide side) const noexcept { return levels(side).size(); }

    /// zlib's crc32 (computed by libdeflate) of the first kChecksumDepth asks then bids, "price:size"
    /// joined with ",", the sides separated by "|" (see protocol/README.md, "Order books and
    /// trades"). The string is built from the levels' texts in a stack buffer: no allocation.
    std::uint32_t checksum() const noexcept;
    /// The string the checksum is taken of (tests, docs).
    std::string checksum_string() const;

private:
    template <BookSide S>
    void apply_side(std::int64_t price, std::int64_t size) noexcept;

    struct Side {
        std::array<BookLevel, kBookCapacity> levels;
        std::size_t count = 0;
    };
    Side& side(BookSide s) noexcept { return s == BookSide::bid ? bids_ : asks_; }
    const Side& side(BookSide s) const noexcept { return s == BookSide::bid ? bids_ : asks_; }

    Side bids_, asks_;
    std::uint8_t price_decimals_, size_decimals_;
    std::size_t capacity_;
};

/// zlib's crc32 of `text` (computed by libdeflate): what OrderBook::checksum() computes of
/// checksum_string(), for a client-side (reference) book that builds the string itself.
std::uint32_t checksum_of(std::string_view text) noexcept;

/// Replaces `out` with the first `depth` levels (price and size) of `levels`: the state of a view
/// that diff_view takes as `before`, kept before the source book changes.
void copy_levels(std::span<const BookLevel> levels, std::size_t depth, std::vector<PriceLevel>& out);

/// The change between two states of a view of `depth` levels of one side (each best first, each
/// already cut to `depth` or longer): appends to `out`, best first, every level of `after`'s first
/// `depth` whose size differs from (or is absent in) `before`'s first `depth`, and a removal (size 0)
/// for each level of `before`'s first `depth` absent from `after`'s first `depth`. `side` gives the
/// order. Appends nothing when the view did not change.
void diff_view(BookSide side, std::span<const PriceLevel> before, std::span<const BookLevel> after, std::size_t depth,
               std::vector<PriceLevel>& out);

/// Overlays `newer` on `older` (both best first, one side, as changes): per price, the newer size
/// wins. The result, best first, replaces `older`. For merging a slow client's pending deltas.
void merge_levels(BookSide side, std::vector<PriceLevel>& older, std::span<const PriceLevel> newer);

}  // namespace tickgate::protocol
