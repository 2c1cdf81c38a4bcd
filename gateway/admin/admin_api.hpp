#pragma once
// The operator API's logic, apart from its transport (admin_server.cpp): a request's method,
// target, Authorization header and body in; a status, a JSON body and a line for the log out.
// Every route is a plain function of those, so each rule is tested without a socket
// (tests/gateway/admin_api_test.cpp); what a route does to clients it asks of the workers, on
// their threads, and waits for (at most kWorkerWait).
//
//   POST /api/broadcast    {"event":"…","data":…,"topic":"…"?}        -> {"delivered":N}
//   POST /api/disconnect   {"session":"…"} or {"user":"…"}, code?, reason?  -> {"disconnected":N}
//   GET  /api/connections?limit=N&after=CURSOR                       -> totals and a page of sessions
//
// The reference is README.md, "Operator API"; what clients receive is protocol/README.md's.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/admin/admin_key.hpp"

namespace tickgate::feeds {
class MessageBus;
}

namespace tickgate::gateway {
class Worker;
}

namespace tickgate::gateway::admin {

/// The longest a call waits for the workers before it answers 503 (they answer in microseconds
/// unless the gateway is stopping or wedged).
inline constexpr auto kWorkerWait = std::chrono::seconds(2);
/// Bodies past this are refused with 413 before they are read whole (the transport's limit).
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;
inline constexpr std::uint32_t kDefaultPageSize = 100, kMaxPageSize = 1000;

struct Request {
    std::string_view method;         // "GET", "POST", ...
    std::string_view target;         // path and query: /api/connections?limit=10
    std::string_view authorization;  // the Authorization header's value, empty when absent
    std::string_view body;
};

struct Response {
    int status = 200;
    std::string body;           // JSON, one line
    std::string extra_headers;  // whole "Name: value\r\n" lines (WWW-Authenticate, Allow)
    std::string action;         // what the call did, for the log (never the key)
};

/// What /metrics counts calls by.
enum class Endpoint : std::uint8_t { broadcast, disconnect, connections, other, count };
std::string_view endpoint_name(Endpoint e) noexcept;
Endpoint endpoint_of(std::string_view target) noexcept;

/// The error responses every route shares: {"error":"<code>","message":"<message>"}.
Response error_response(int status, std::string_view code, std::string_view message);

class AdminApi {
public:
    /// `workers` are the gateway's (running while calls come); an announcement may be at most half
    /// of `max_queue_bytes`, so it fits a client's queue beside what is already there. `bus` links
    /// this gateway to the others (NATS), or is null: a broadcast reaches their clients through it.
    AdminApi(const AdminKey& key, std::vector<Worker*> workers, std::size_t max_queue_bytes,
             feeds::MessageBus* bus = nullptr);

    /// One call, on the admin server's thread.
    Response handle(const Request& request);

    /// For calls the transport answers itself (413): counted like the others.
    void count(Endpoint endpoint, int status) noexcept;
    struct CallCount {
        Endpoint endpoint;
        int status;
        std::uint64_t calls;
    };
    /// Calls so far, by endpoint and status (only those that happened). Any thread.
    std::vector<CallCount> call_counts() const;

private:
    Response route(const Request& request);
    Response broadcast(std::string_view body);
    Response disconnect(std::string_view body);
    Response connections(std::string_view query);

    static constexpr std::array<int, 8> kStatuses{200, 400, 401, 404, 405, 413, 500, 503};
    const AdminKey& key_;
    std::vector<Worker*> workers_;
    std::size_t max_announcement_bytes_;
    feeds::MessageBus* bus_;
    std::array<std::array<std::atomic<std::uint64_t>, kStatuses.size()>, static_cast<std::size_t>(Endpoint::count)>
        calls_{};
};

}  // namespace tickgate::gateway::admin
