#pragma once
// Per-topic entitlements: which subscribe entries a client's allowed patterns (a token's `topics`
// claim, or --anonymous-topics) permit. Decided on subscribe and refresh only, never per message.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tickgate::protocol {

/// True when every topic `entry` (a valid topic or pattern) can ever match is matched by `allowed`
/// (a valid topic or pattern): "ticker.*" covers "ticker.BTC-USD" and "ticker.*", not "*.*"; an
/// exact topic covers only itself. Checking the entry's segments, not the topics that exist
/// today, keeps a pattern from reaching topics that appear later.
bool pattern_covers(std::string_view allowed, std::string_view entry) noexcept;

/// What one client may subscribe to: every entry (no `topics` claim), or the entries some allowed
/// pattern covers.
class Entitlement {
public:
    static Entitlement everything() { return Entitlement(std::nullopt); }
    static Entitlement only(std::vector<std::string> patterns) { return Entitlement(std::move(patterns)); }

    bool allows(std::string_view entry) const noexcept;
    bool allows_everything() const noexcept { return !patterns_.has_value(); }

private:
    explicit Entitlement(std::optional<std::vector<std::string>> patterns) : patterns_(std::move(patterns)) {}
    std::optional<std::vector<std::string>> patterns_;  // nullopt: everything
};

}  // namespace tickgate::protocol
