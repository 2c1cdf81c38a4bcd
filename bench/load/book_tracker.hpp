#pragma once
// Per-connection order books: for every book./book50. topic a connection receives, the book the
// messages build (snapshot, then deltas), checked on every message as protocol/README.md asks a
// client to: the prev_seq chain, and the checksum (zlib crc32 of the first 10 asks and bids as
// `price:size` with the exact strings received). tests/e2e/support/reference_book.hpp states the
// same rules with a DOM and std::map; this one is for the load tool's hot path: a scan of the
// message (book_scan.hpp), sorted flat arrays per side, no allocation once a book has grown.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/book_scan.hpp"
#include "bench/load/topic_slots.hpp"
#include "bench/load/update_scan.hpp"

namespace tickgate::load {

struct BookCounts {
    std::uint64_t messages = 0;           // book messages received, snapshots included
    std::uint64_t snapshots = 0;
    std::uint64_t chain_breaks = 0;       // a delta whose prev_seq is not the seq of the topic's last message
                                          // (or is missing, or not below its seq), or a delta before any snapshot
    std::uint64_t checksum_failures = 0;  // the book after the message does not have the message's checksum
    std::uint64_t unverified = 0;         // messages not checked: the book was already known wrong (after a
                                          // checksum failure or malformed message, until the next snapshot)
    std::uint64_t malformed = 0;          // unreadable levels, prices or checksum
    std::uint64_t depth_exceeded = 0;     // messages after which a side held more levels than the view's depth

    void add(const BookCounts& o) noexcept {
        messages += o.messages;
        snapshots += o.snapshots;
        chain_breaks += o.chain_breaks;
        checksum_failures += o.checksum_failures;
        unverified += o.unverified;
        malformed += o.malformed;
        depth_exceeded += o.depth_exceeded;
    }
};

/// One price level as received: the price's value for ordering, and the exact strings, kept as
/// the checksum's piece "price:size" so that the checksum text is one fixed-size copy per level.
struct BookLevel {
    static constexpr std::size_t kTextSize = 46;  // "price:size" (64 bytes a level)
    unsigned __int128 key = 0;                    // integer part << 64 | fraction scaled to 18 digits
    std::uint8_t price_size = 0, size_size = 0;
    char text[kTextSize];

    std::string_view price() const noexcept { return {text, price_size}; }
    std::string_view size() const noexcept { return {text + price_size + 1, size_size}; }
    std::size_t text_size() const noexcept { return std::size_t{price_size} + 1 + size_size; }
};

/// A price's exact value as an ordered integer: digits with at most one '.', up to 19 before it and
/// 18 after. False for anything else. "65000.5" and "65000.50" have one key (one level).
bool price_key(std::string_view price, unsigned __int128& key) noexcept;
/// True for a decimal whose digits are all zero ("0.0000"): the level is removed.
bool is_zero_size(std::string_view size) noexcept;

/// One side of a book, best first: bids by descending key, asks ascending.
class BookSide {
public:
    static constexpr std::size_t kMaxLevels = 256;  // far beyond any view; a guard against a runaway server

    explicit BookSide(bool bids) noexcept : bids_(bids) {}

    /// Sets (size non-zero) or removes (size zero; absent is fine) the level at `price`. Levels of
    /// one message come best first, so the search starts where the previous one ended. False when
    /// the price or size is unreadable, or the level does not fit.
    bool apply(std::string_view price, std::string_view size) noexcept;
    /// Call before the levels of each message.
    void begin_message() noexcept { cursor_ = 0; }
    void clear() noexcept {
        levels_.clear();
        cursor_ = 0;
    }

    std::size_t depth() const noexcept { return levels_.size(); }
    const BookLevel& operator[](std::size_t i) const noexcept { return levels_[i]; }
    /// Appends the first `n` levels as `price:size` joined with ','; returns the new end. Writes
    /// up to BookLevel::kTextSize bytes past it (whole-level copies): the buffer needs that slack.
    char* append_checksum_text(char* out, std::size_t n) const noexcept;

private:
    bool better(unsigned __int128 a, unsigned __int128 b) const noexcept { return bids_ ? a > b : a < b; }

    std::vector<BookLevel> levels_;
    std::size_t cursor_ = 0;
    unsigned __int128 last_key_ = 0;  // the previous level of this message, for the cursor
    bool bids_;
};

/// One topic's book as a client holds it.
struct ClientBook {
    BookSide bids{true}, asks{false};
    std::uint64_t last_seq = 0;  // seq of the topic's last message
    bool seen = false;           // a message of the topic has arrived
    bool valid = false;          // built from a snapshot and not known wrong since

    /// "asks|bids" (first 10 each), the checksummed text; `out` must hold kChecksumTextMax bytes.
    std::size_t checksum_text(char* out) const noexcept;
    std::uint32_t checksum() const noexcept;
    static constexpr std::size_t kChecksumTextMax = 2 * 10 * (BookLevel::kTextSize + 1) + 1 + BookLevel::kTextSize;
};

/// zlib's crc32 of `text`.
std::uint32_t crc32_of(std::string_view text) noexcept;

class BookTracker {
public:
    /// Checks and applies one book message (`m` its scan, `text` the message) of `channel` book or
    /// book50. Allocates only when a topic is first seen or a side grows past its capacity.
    void on_message(std::string_view text, const ScannedMessage& m, Channel channel);

    /// Both views together, and one view (book or book50) alone.
    BookCounts counts() const noexcept {
        BookCounts all = counts_[0];
        all.add(counts_[1]);
        return all;
    }
    const BookCounts& counts(Channel view) const noexcept { return counts_[view == Channel::book50 ? 1 : 0]; }
    std::size_t topics() const noexcept { return slots_.size(); }
    /// What went wrong first (topic, seq, why; for a checksum failure the text checksummed and the
    /// message), empty while nothing has. Set once: a fault costs an allocation, a good message none.
    const std::string& first_fault() const noexcept { return first_fault_; }
    /// The book of `topic`, or null (tests).
    const ClientBook* book(std::string_view topic) const noexcept {
        const auto slot = slots_.find(topic);
        return slot == TopicSlots::kNone ? nullptr : &books_[slot];
    }

private:
    bool apply_side(std::string_view text, std::size_t at, BookSide& side, std::size_t& end) noexcept;

    TopicSlots slots_;
    std::vector<ClientBook> books_;  // by slot
    void fault(std::string_view kind, const ScannedMessage& m, std::string_view text, std::string_view detail = {});

    BookCounts counts_[2];  // book, book50
    std::string first_fault_;
};

}  // namespace tickgate::load
