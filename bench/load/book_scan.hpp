#pragma once
// The book-specific parts of a book message, read by scanning its bytes like update_scan.hpp does
// for the common fields: prev_seq, checksum, and the bids/asks arrays one [price, size] pair at a
// time, as views into the message. Allocation-free: the book applies each pair as it is read.
//
//   {"type":"book","topic":"book.BTC-USD","seq":S,"prev_seq":P,"ts":..,"snapshot":false,
//    "bids":[["64999.50","0.2500"],..],"asks":[..],"checksum":C}

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tickgate::load {

/// Which kind of topic: the channel before the first '.'. Books and trades are checked apart from
/// tickers (a book's seq skips by design; a trade's rises by one but has no snapshot).
enum class Channel { ticker, book, book50, trade };

/// Everything that is not book., book50. or trade. counts as a ticker (seq + 1 per update).
inline Channel channel_of(std::string_view topic) noexcept {
    if (topic.size() > 5 && topic[0] == 'b' && topic.starts_with("book")) {
        if (topic[4] == '.') return Channel::book;
        if (topic.starts_with("book50.")) return Channel::book50;
    } else if (topic.size() > 6 && topic[0] == 't' && topic.starts_with("trade.")) {
        return Channel::trade;
    }
    return Channel::ticker;
}

/// The position just after `"name":` (and any whitespace) at or after `from`, else anywhere
/// before it; npos when absent. As update_scan's search: keys with their quotes and colon.
std::size_t find_value(std::string_view text, std::string_view quoted_key_colon, std::size_t from = 0) noexcept;

/// An unsigned JSON integer at `at` (e.g. from find_value); false when there is none.
bool read_uint(std::string_view text, std::size_t at, std::uint64_t& out) noexcept;

/// Reads one side's array, `[["p","s"],["p","s"],...]`, pair by pair. Strings must be plain
/// decimals (no escapes: the reader only looks for the closing quote); whitespace is allowed
/// between tokens.
class LevelReader {
public:
    /// `at` is where the array's '[' is (or whitespace before it), e.g. find_value(text, "\"bids\":").
    LevelReader(std::string_view text, std::size_t at) noexcept : text_(text), at_(at) {}

    /// The next pair; false at the end of the array or on malformed input (then error()).
    bool next(std::string_view& price, std::string_view& size) noexcept;
    bool error() const noexcept { return error_; }
    /// After next() returned false without error: the position just after the array's ']'.
    std::size_t end() const noexcept { return at_; }

private:
    bool fail() noexcept {
        error_ = true;
        return false;
    }
    void skip_space() noexcept;
    bool expect(char c) noexcept;
    bool string(std::string_view& out) noexcept;

    std::string_view text_;
    std::size_t at_;
    bool started_ = false, done_ = false, error_ = false;
};

}  // namespace tickgate::load
