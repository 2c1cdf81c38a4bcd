#include "gateway/auth/access_control.hpp"

#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/config.hpp"

namespace tickgate::gateway::auth {

UserSlot& UserSlot::operator=(UserSlot&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        sub_ = std::move(other.sub_);
    }
    return *this;
}

void UserSlot::release() noexcept {
    if (auto* owner = std::exchange(owner_, nullptr)) owner->release(sub_);
}

AccessControl::AccessControl(const Config& config)
    : settings_(config.jwt), anonymous_(protocol::Entitlement::only(config.anonymous_topics)),
      has_anonymous_(!config.anonymous_topics.empty()), auth_timeout_ms_(config.auth_timeout_ms),
      max_per_user_(config.max_connections_per_user) {}

bool AccessControl::load(std::string& error) {
    if (!enabled()) return true;
    auto verifier = TokenVerifier::load(settings_, error);
    if (!verifier) return false;
    TG_LOG(info, "access control: JWT keys %s; clients without a token may subscribe to %s",
           verifier->describe().c_str(), has_anonymous_ ? "the --anonymous-topics" : "nothing");
    std::lock_guard lock(keys_mutex_);
    verifier_ = std::move(verifier);
    return true;
}

ReloadResult AccessControl::reload() {
    if (!enabled()) return ReloadResult::not_configured;
    std::string error;
    auto verifier = TokenVerifier::load(settings_, error);
    if (!verifier) {
        TG_LOG(error, "SIGHUP: JWT keys not reloaded, the old ones stay: %s", error.c_str());
        return ReloadResult::failed;
    }
    TG_LOG(info, "SIGHUP: JWT keys reloaded: %s", verifier->describe().c_str());
    std::lock_guard lock(keys_mutex_);
    verifier_ = std::move(verifier);
    return ReloadResult::ok;
}

std::variant<TokenClaims, TokenError> AccessControl::verify(std::string_view token) const {
    std::shared_ptr<const TokenVerifier> verifier;
    {
        std::lock_guard lock(keys_mutex_);
        verifier = verifier_;
    }
    if (!verifier) return TokenError::alg_not_allowed;
    return verifier->verify(token, runtime::realtime_ns() / 1'000'000'000);
}

UserSlot AccessControl::acquire(const std::string& sub) {
    UserSlot slot;
    std::lock_guard lock(users_mutex_);
    auto& held = connections_per_user_[sub];
    if (max_per_user_ != 0 && held >= max_per_user_) {
        if (held == 0) connections_per_user_.erase(sub);
        return slot;
    }
    ++held;
    slot.owner_ = this;
    slot.sub_ = sub;
    return slot;
}

Identity AccessControl::identify(TokenClaims claims) {
    Identity identity;
    identity.slot = acquire(claims.sub);
    identity.entitlement = claims.topics ? protocol::Entitlement::only(*claims.topics)
                                         : protocol::Entitlement::everything();
    identity.claims = std::move(claims);
    return identity;
}

void AccessControl::release(const std::string& sub) noexcept {
    std::lock_guard lock(users_mutex_);
    const auto it = connections_per_user_.find(sub);
    if (it == connections_per_user_.end()) return;
    if (--it->second == 0) connections_per_user_.erase(it);
}

}  // namespace tickgate::gateway::auth
