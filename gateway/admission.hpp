#pragma once
// Who gets in, and what became of each connection: the connection limits every WebSocket and
// polling session takes a place in, and the counters behind tickgate_connections_total{result} and
// tickgate_accept_errors_total. Shared by every worker; any thread.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace tickgate::gateway {

// A connection's place within --max-connections and --max-connections-per-ip, released when the
// connection ends. A connection over a limit still gets a slot object (not admitted) so it can be
// answered with HTTP 503.
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

/// tickgate_connections_total{result}: what became of each accepted TCP connection.
enum class ConnectionResult { websocket, http, rejected_limit, rejected_origin, bad_handshake, tls_error, timeout, count };
const char* connection_result_name(ConnectionResult r) noexcept;

class Admission {
public:
    Admission(std::size_t max_connections, std::size_t max_per_ip) : limits_(max_connections, max_per_ip) {}

    /// A place within --max-connections and --max-connections-per-ip (see ConnectionSlot::admitted).
    ConnectionSlot slot_for(std::string ip) { return ConnectionSlot(limits_, std::move(ip)); }

    void count(ConnectionResult r) noexcept { results_[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t counted(ConnectionResult r) const noexcept {
        return results_[static_cast<int>(r)].load(std::memory_order_relaxed);
    }
    void count_accept_error() noexcept { accept_errors_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t accept_errors() const noexcept { return accept_errors_.load(std::memory_order_relaxed); }

private:
    ConnectionLimits limits_;
    std::atomic<std::uint64_t> results_[static_cast<int>(ConnectionResult::count)] = {};
    std::atomic<std::uint64_t> accept_errors_{0};
};

}  // namespace tickgate::gateway
