#pragma once
// A connection's place within --max-connections and --max-connections-per-ip, released when the
// connection ends. A connection over a limit still gets a slot object (not admitted) so it can be
// answered with HTTP 503.

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace tickgate::gateway {

class ConnectionLimits {
public:
    ConnectionLimits(std::size_t max_total, std::size_t max_per_ip) : max_total_(max_total), max_per_ip_(max_per_ip) {}
    /// True when admitted; the caller must call release(ip) later.
    bool try_acquire(const std::string& ip);
    void release(const std::string& ip);
    std::size_t total() const;

private:
    mutable std::mutex mutex_;
    std::size_t max_total_, max_per_ip_;
    std::size_t total_ = 0;
    std::unordered_map<std::string, std::size_t> per_ip_;
};

class ConnectionSlot {
public:
    ConnectionSlot() = default;
    ConnectionSlot(ConnectionLimits& limits, std::string ip)
        : limits_(&limits), ip_(std::move(ip)), admitted_(limits.try_acquire(ip_)) {}
    ConnectionSlot(ConnectionSlot&& o) noexcept
        : limits_(std::exchange(o.limits_, nullptr)), ip_(std::move(o.ip_)), admitted_(std::exchange(o.admitted_, false)) {}
    ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
        if (this != &o) {
            reset();
            limits_ = std::exchange(o.limits_, nullptr);
            ip_ = std::move(o.ip_);
            admitted_ = std::exchange(o.admitted_, false);
        }
        return *this;
    }
    ~ConnectionSlot() { reset(); }

    bool admitted() const noexcept { return admitted_; }
    const std::string& ip() const noexcept { return ip_; }

private:
    void reset() {
        if (limits_ && admitted_) limits_->release(ip_);
        limits_ = nullptr;
        admitted_ = false;
    }
    ConnectionLimits* limits_ = nullptr;
    std::string ip_;
    bool admitted_ = false;
};

}  // namespace tickgate::gateway
