#pragma once
// Who gets in, and what became of each connection: the connection limits every WebSocket and
// polling session takes a place in, and the counters behind tickgate_connections_total{result} and
// tickgate_accept_errors_total. Shared by every worker; any thread.

#include <atomic>
#include <cstdint>
#include <string>

#include "gateway/connection_slot.hpp"

namespace tickgate::gateway {

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
