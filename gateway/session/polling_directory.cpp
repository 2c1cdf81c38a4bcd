#include "gateway/session/polling_directory.hpp"

namespace tickgate::gateway {

void PollingDirectory::add(const std::string& sid, Worker& owner, PollingSession* session) {
    std::lock_guard lock(mutex_);
    entries_[sid] = Entry{&owner, session};
}

void PollingDirectory::remove(const std::string& sid, const PollingSession* session) {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(sid); it != entries_.end() && it->second.session == session) entries_.erase(it);
}

Worker* PollingDirectory::owner(std::string_view sid) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(sid);
    return it == entries_.end() ? nullptr : it->second.owner;
}

PollingSession* PollingDirectory::find_local(std::string_view sid, const Worker& here) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(sid);
    return it == entries_.end() || it->second.owner != &here ? nullptr : it->second.session;
}

}  // namespace tickgate::gateway
