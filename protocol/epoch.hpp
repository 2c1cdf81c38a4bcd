#pragma once
// Epochs name a source's seq space (protocol/README.md, "Resume"): a source that starts its seqs
// over (a restarted in-process simulator, a new publisher) gets a new epoch, so a client's
// {"epoch","seq"} from before is told apart from a point in the current stream. On the wire an epoch
// is 16 lowercase hex digits; 0 is never one (a v1 bus message, no epoch known).

#include <charconv>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace tickgate::protocol {

inline std::string format_epoch(std::uint64_t epoch) {
    std::string s(16, '0');
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, epoch >>= 4) s[static_cast<std::size_t>(i)] = kHex[epoch & 0xf];
    return s;
}

/// The epoch a client sent back: 1 to 16 hex digits, not 0. Anything else is not an epoch.
inline std::optional<std::uint64_t> parse_epoch(std::string_view s) {
    if (s.empty() || s.size() > 16) return std::nullopt;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (ec != std::errc{} || end != s.data() + s.size() || v == 0) return std::nullopt;
    return v;
}

/// A fresh epoch: random, never 0.
inline std::uint64_t random_epoch() {
    std::random_device rd;
    std::uint64_t e = 0;
    while (e == 0) e = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    return e;
}

}  // namespace tickgate::protocol
