#include "gateway/session/recovery_store.hpp"

#include <openssl/rand.h>

#include <array>
#include <random>

namespace tickgate::gateway {

RecoveryStore::RecoveryStore(std::int64_t window_ms, std::size_t max_sessions)
    : window_ns_(window_ms * 1'000'000), max_sessions_(max_sessions) {}

std::string RecoveryStore::new_pid() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        // OpenSSL's generator is seeded from the kernel; should it ever fail, the kernel's own.
        std::random_device rd;
        for (auto& b : bytes) b = static_cast<unsigned char>(rd());
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string pid;
    pid.reserve(32);
    for (const unsigned char b : bytes) {
        pid += kHex[b >> 4];
        pid += kHex[b & 0xf];
    }
    return pid;
}

void RecoveryStore::keep(std::string pid, KeptSession session, std::int64_t now_ns) {
    std::lock_guard lock(mutex_);
    expire_locked(now_ns);
    const std::int64_t expires = now_ns + window_ns_;
    auto [it, inserted] = sessions_.try_emplace(pid);
    it->second = Kept{std::move(session), expires};
    order_.emplace_back(expires, std::move(pid));
    ++counts_.kept;
    while (sessions_.size() > max_sessions_ && pop_oldest_locked(counts_.evicted)) {
    }
}

std::optional<KeptSession> RecoveryStore::take(std::string_view pid, std::int64_t now_ns) {
    std::lock_guard lock(mutex_);
    expire_locked(now_ns);
    auto it = sessions_.find(pid);
    if (it == sessions_.end()) return std::nullopt;
    KeptSession session = std::move(it->second.session);
    sessions_.erase(it);  // its record in order_ is skipped when it reaches the front
    ++counts_.taken;
    return session;
}

void RecoveryStore::expire_locked(std::int64_t now_ns) {
    while (!order_.empty() && order_.front().first <= now_ns && pop_oldest_locked(counts_.expired)) {
    }
}

bool RecoveryStore::pop_oldest_locked(std::uint64_t& counter) {
    if (order_.empty()) return false;
    auto [expires, pid] = std::move(order_.front());
    order_.pop_front();
    if (auto it = sessions_.find(pid); it != sessions_.end() && it->second.expires_ns == expires) {
        sessions_.erase(it);
        ++counter;
    }
    return true;
}

void RecoveryStore::count(Outcome outcome) {
    std::lock_guard lock(mutex_);
    switch (outcome) {
    case Outcome::recovered: ++counts_.recovered; break;
    case Outcome::restored: ++counts_.restored; break;
    case Outcome::refused: ++counts_.refused; break;
    }
}

std::size_t RecoveryStore::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

RecoveryStore::Counts RecoveryStore::counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

}  // namespace tickgate::gateway
