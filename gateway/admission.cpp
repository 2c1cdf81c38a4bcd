#include "gateway/admission.hpp"

namespace tickgate::gateway {

bool ConnectionLimits::try_acquire(const std::string& ip) {
    std::lock_guard lock(mutex_);
    if (total_ >= max_total_) return false;
    auto& n = per_ip_[ip];
    if (n >= max_per_ip_) return false;
    ++n;
    ++total_;
    return true;
}

void ConnectionLimits::release(const std::string& ip) {
    std::lock_guard lock(mutex_);
    auto it = per_ip_.find(ip);
    if (it == per_ip_.end()) return;
    if (--it->second == 0) per_ip_.erase(it);
    --total_;
}

std::size_t ConnectionLimits::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

const char* connection_result_name(ConnectionResult r) noexcept {
    switch (r) {
    case ConnectionResult::websocket: return "websocket";
    case ConnectionResult::http: return "http";
    case ConnectionResult::rejected_limit: return "rejected_limit";
    case ConnectionResult::rejected_origin: return "rejected_origin";
    case ConnectionResult::bad_handshake: return "bad_handshake";
    case ConnectionResult::tls_error: return "tls_error";
    case ConnectionResult::timeout: return "timeout";
    case ConnectionResult::count: break;
    }
    return "unknown";
}

}  // namespace tickgate::gateway
