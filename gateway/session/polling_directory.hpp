#pragma once
// sid -> owner worker and session, for every Socket.IO polling session of a server. Polling
// requests for one sid may arrive on any connection, on any worker; they are posted to the owner.
// Any thread may ask for the owner; only the owner's thread adds, removes and uses the session
// pointer, and it removes the entry before the session can be freed.

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tickgate::gateway {

class Worker;
class PollingSession;

class PollingDirectory {
public:
    void add(const std::string& sid, Worker& owner, PollingSession* session);
    void remove(const std::string& sid, const PollingSession* session);
    /// Any thread: the worker that owns the session, or null when none lives.
    Worker* owner(std::string_view sid) const;
    /// On `here`'s thread: the session, when `here` owns it.
    PollingSession* find_local(std::string_view sid, const Worker& here) const;

private:
    struct Entry {
        Worker* owner;
        PollingSession* session;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

}  // namespace tickgate::gateway
