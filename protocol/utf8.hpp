#pragma once
// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), shared by the
// frame reader (text messages, close reasons) and the JSON encoders.

#include <cstddef>
#include <string_view>

namespace tickgate::protocol {

/// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not valid (or `s` is empty).
std::size_t utf8_sequence_length(std::string_view s) noexcept;

bool is_valid_utf8(std::string_view s) noexcept;

/// The longest prefix of `s` of at most `max_bytes` bytes that does not end inside a sequence.
std::string_view utf8_truncate(std::string_view s, std::size_t max_bytes) noexcept;

}  // namespace tickgate::protocol
