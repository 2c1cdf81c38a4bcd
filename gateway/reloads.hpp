#pragma once
// What SIGHUP reloaded: the certificate, the JWT keys and the admin key, each either taken or
// refused (the old one kept). Counted so an operator's alert sees a refused reload that only the
// log would otherwise tell (tickgate_reloads_total{what,result}).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tickgate::gateway {

/// One reload's outcome; `not_configured` when there was nothing to reload (e.g. --no-tls).
enum class ReloadResult { not_configured, ok, failed };

enum class Reloadable : std::size_t { certificate, jwt_keys, admin_key };
inline constexpr std::size_t kReloadables = 3;

constexpr std::string_view reloadable_name(Reloadable what) noexcept {
    switch (what) {
        case Reloadable::certificate: return "certificate";
        case Reloadable::jwt_keys: return "jwt_keys";
        case Reloadable::admin_key: return "admin_key";
    }
    return "?";
}

/// Written by the signal thread, read by scrapes.
class ReloadCounts {
public:
    void count(Reloadable what, ReloadResult result) noexcept {
        if (result == ReloadResult::not_configured) return;
        auto& slot = result == ReloadResult::ok ? ok_ : failed_;
        slot[static_cast<std::size_t>(what)].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t ok(Reloadable what) const noexcept {
        return ok_[static_cast<std::size_t>(what)].load(std::memory_order_relaxed);
    }
    std::uint64_t failed(Reloadable what) const noexcept {
        return failed_[static_cast<std::size_t>(what)].load(std::memory_order_relaxed);
    }

private:
    std::array<std::atomic<std::uint64_t>, kReloadables> ok_{}, failed_{};
};

}  // namespace tickgate::gateway
