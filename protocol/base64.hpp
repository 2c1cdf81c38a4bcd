#pragma once
// Standard base64 (RFC 4648 section 4, with '=' padding), as Engine.IO uses for binary packets in
// HTTP long-polling bodies ("b" + base64).

#include <string>
#include <string_view>

namespace tickgate::protocol {

/// Appends the base64 encoding of `bytes` to `out`.
void append_base64(std::string_view bytes, std::string& out);

/// Appends the bytes `text` encodes to `out`. Strict: the length must be a multiple of 4, padding
/// only at the end, no whitespace, and unused bits of the last symbol must be zero (so every byte
/// string has exactly one accepted encoding). Returns false, leaving `out` unspecified beyond its
/// original size, when `text` is not valid.
[[nodiscard]] bool append_base64_decoded(std::string_view text, std::string& out);

}  // namespace tickgate::protocol
