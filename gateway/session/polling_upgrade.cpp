#include "gateway/session/polling_upgrade.hpp"

#include "gateway/fanout/worker.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/session/polling_directory.hpp"
#include "gateway/session/polling_session.hpp"

namespace tickgate::gateway {

bool PollingUpgrade::begin(std::string_view sid) {
    PollingSession* polling = probe_.polling_directory().find_local(sid, probe_.worker());
    if (!polling || !polling->claim_upgrade()) return false;
    active_ = true;
    polling_ = std::static_pointer_cast<PollingSession>(polling->shared_from_this());
    return true;
}

void PollingUpgrade::probe_answered() {
    if (auto polling = polling_.lock()) polling->on_probe_started();
}

bool PollingUpgrade::target_open() const {
    auto polling = polling_.lock();
    return polling && polling->is_open();
}

void PollingUpgrade::complete() {
    auto polling = polling_.lock();
    active_ = false;
    polling_.reset();
    polling->release_upgrade();
    probe_.adopt(*polling);
    TG_LOG(info, "session %s %s: upgraded from polling to websocket", probe_.id().c_str(), probe_.peer().c_str());
    polling->on_taken_over();
    probe_.flush();
}

void PollingUpgrade::abandon() {
    if (!active_) return;
    active_ = false;
    if (auto polling = polling_.lock()) polling->on_probe_ended();
    polling_.reset();
}

}  // namespace tickgate::gateway
