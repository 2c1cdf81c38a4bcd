#pragma once
// The gateway's access control, shared by every connection: the current keys (SIGHUP swaps them),
// the anonymous entitlement, and how many connections each token subject holds. Off (enabled()
// false) without a key flag: sessions then behave exactly as without it.
//
// Thread-safe: connections on any worker verify and take user slots concurrently.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "gateway/auth/token_verifier.hpp"
#include "gateway/reloads.hpp"
#include "protocol/entitlement.hpp"

namespace tickgate::gateway {
struct Config;
}

namespace tickgate::gateway::auth {

class AccessControl;

/// One of a user's connections, held for as long as the connection is authenticated as them.
class UserSlot {
public:
    UserSlot() = default;
    UserSlot(UserSlot&& other) noexcept { *this = std::move(other); }
    UserSlot& operator=(UserSlot&& other) noexcept;
    ~UserSlot() { release(); }

    bool admitted() const noexcept { return owner_ != nullptr; }
    void release() noexcept;

private:
    friend class AccessControl;
    AccessControl* owner_ = nullptr;
    std::string sub_;
};

/// A connection's verified token and the slot it holds for its user.
struct Identity {
    TokenClaims claims;
    protocol::Entitlement entitlement = protocol::Entitlement::everything();
    UserSlot slot;

    std::int64_t expires_at_ns() const noexcept { return claims.exp * 1'000'000'000; }
};

class AccessControl {
public:
    explicit AccessControl(const Config& config);

    bool enabled() const noexcept { return settings_.enabled(); }
    /// Loads the keys at start-up: false with `error` when they cannot be used.
    bool load(std::string& error);
    /// SIGHUP: new keys from the same files; on an error the old keys stay, and it is logged.
    ReloadResult reload();

    /// Against the wall clock. Never logs the token.
    std::variant<TokenClaims, TokenError> verify(std::string_view token) const;
    /// A connection for `claims.sub`: the identity, with an unadmitted slot when the user is at
    /// --max-connections-per-user.
    Identity identify(TokenClaims claims);
    /// Takes a slot for `sub`; unadmitted when the user is at the limit.
    UserSlot acquire(const std::string& sub);

    const protocol::Entitlement& anonymous() const noexcept { return anonymous_; }
    bool has_anonymous_topics() const noexcept { return has_anonymous_; }
    std::uint32_t auth_timeout_ms() const noexcept { return auth_timeout_ms_; }

private:
    friend class UserSlot;
    void release(const std::string& sub) noexcept;

    const KeySettings settings_;
    const protocol::Entitlement anonymous_;
    const bool has_anonymous_;
    const std::uint32_t auth_timeout_ms_;
    const std::uint32_t max_per_user_;

    mutable std::mutex keys_mutex_;
    std::shared_ptr<const TokenVerifier> verifier_;
    std::mutex users_mutex_;
    std::unordered_map<std::string, std::uint32_t> connections_per_user_;
};

}  // namespace tickgate::gateway::auth
