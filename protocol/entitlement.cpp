#include "protocol/entitlement.hpp"

namespace tickgate::protocol {
namespace {

bool segment_covers(std::string_view allowed, std::string_view entry) noexcept {
    return allowed == "*" || allowed == entry;
}

}  // namespace

bool pattern_covers(std::string_view allowed, std::string_view entry) noexcept {
    const auto adot = allowed.find('.');
    const auto edot = entry.find('.');
    if (adot == std::string_view::npos || edot == std::string_view::npos) return false;
    // A "*" in the entry is only covered by a "*" in the same segment: segment_covers("BTC-USD", "*") is false.
    return segment_covers(allowed.substr(0, adot), entry.substr(0, edot)) &&
           segment_covers(allowed.substr(adot + 1), entry.substr(edot + 1));
}

bool Entitlement::allows(std::string_view entry) const noexcept {
    if (!patterns_) return true;
    // A throttled entry (ticker.*@1000ms) asks for the same topics as its base.
    entry = entry.substr(0, entry.find('@'));
    for (const auto& pattern : *patterns_)
        if (pattern_covers(pattern, entry)) return true;
    return false;
}

}  // namespace tickgate::protocol
