#include "bench/load/book_scan.hpp"

#include <charconv>

namespace tickgate::load {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::size_t find_value(std::string_view text, std::string_view quoted_key_colon, std::size_t from) noexcept {
    auto at = from < text.size() ? text.find(quoted_key_colon, from) : std::string_view::npos;
    if (at == std::string_view::npos && from > 0)
        at = text.substr(0, std::min(text.size(), from + quoted_key_colon.size() - 1)).find(quoted_key_colon);
    if (at == std::string_view::npos) return at;
    auto p = at + quoted_key_colon.size();
    while (p < text.size() && is_space(text[p])) ++p;
    return p;
}

bool read_uint(std::string_view text, std::size_t at, std::uint64_t& out) noexcept {
    if (at >= text.size()) return false;
    const auto r = std::from_chars(text.data() + at, text.data() + text.size(), out);
    return r.ec == std::errc{};
}

void LevelReader::skip_space() noexcept {
    while (at_ < text_.size() && is_space(text_[at_])) ++at_;
}

bool LevelReader::expect(char c) noexcept {
    skip_space();
    if (at_ >= text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
}

bool LevelReader::string(std::string_view& out) noexcept {
    if (!expect('"')) return false;
    const std::size_t begin = at_;
    // Decimal strings are short: a plain loop beats find()'s call for the eight or so bytes.
    while (at_ < text_.size() && text_[at_] != '"') {
        if (text_[at_] == '\\') return false;
        ++at_;
    }
    if (at_ >= text_.size()) return false;
    out = text_.substr(begin, at_ - begin);
    ++at_;
    return true;
}

bool LevelReader::next(std::string_view& price, std::string_view& size) noexcept {
    if (done_ || error_) return false;
    if (!started_) {
        started_ = true;
        if (at_ == std::string_view::npos || !expect('[')) return fail();
        skip_space();
        if (at_ < text_.size() && text_[at_] == ']') {
            ++at_;
            done_ = true;
            return false;
        }
    } else {
        skip_space();
        if (at_ >= text_.size()) return fail();
        if (text_[at_] == ']') {
            ++at_;
            done_ = true;
            return false;
        }
        if (text_[at_] != ',') return fail();
        ++at_;
    }
    if (!expect('[') || !string(price) || !expect(',') || !string(size) || !expect(']')) return fail();
    return true;
}

}  // namespace tickgate::load
