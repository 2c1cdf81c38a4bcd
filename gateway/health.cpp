#include "gateway/health.hpp"

#include "gateway/fanout/broadcast_engine.hpp"
#include "protocol/messages.hpp"

namespace tickgate::gateway {

HealthAnswer Health::healthz() const {
    bool all_fresh = true;
    std::string feeds;
    if (engine_) {
        for (const auto& f : engine_->feed_health()) {
            all_fresh = all_fresh && f.fresh;
            if (!feeds.empty()) feeds += ',';
            feeds += "{\"name\":";
            protocol::append_json_string(f.name, feeds);
            feeds += ",\"state\":\"";
            feeds += f.fresh ? "ok" : "stale";
            feeds += "\",\"age_ms\":" + std::to_string(f.age_ms) + "}";
        }
    }
    return {all_fresh ? 200 : 503,
            std::string("{\"status\":\"") + (all_fresh ? "ok" : "stale") + "\",\"feeds\":[" + feeds + "]}\n"};
}

HealthAnswer Health::readyz() const {
    const auto r = readiness();
    const char* state = r == Readiness::ready ? "ready" : r == Readiness::draining ? "draining" : "starting";
    return {r == Readiness::ready ? 200 : 503, std::string("{\"status\":\"") + state + "\"}\n"};
}

}  // namespace tickgate::gateway
