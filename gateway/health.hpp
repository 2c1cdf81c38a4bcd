#pragma once
// What /healthz and /readyz say. /healthz: every feed fresh (200) or not (503), with each feed's
// age. /readyz: whether the server takes clients (200), or is starting or draining (503), so a load
// balancer empties a draining gateway but keeps one whose feed is merely stale.

#include <atomic>
#include <string>

namespace tickgate::gateway {

class BroadcastEngine;

struct HealthAnswer {
    int status = 200;
    std::string body;  // JSON, newline-terminated
};

class Health {
public:
    enum class Readiness { starting, ready, draining };

    /// The engine whose feeds /healthz reports, once it exists.
    void watch_feeds(const BroadcastEngine& engine) noexcept { engine_ = &engine; }
    void set(Readiness r) noexcept { readiness_.store(r, std::memory_order_relaxed); }
    Readiness readiness() const noexcept { return readiness_.load(std::memory_order_relaxed); }
    bool draining() const noexcept { return readiness() == Readiness::draining; }

    /// Any thread.
    HealthAnswer healthz() const;
    HealthAnswer readyz() const;

private:
    const BroadcastEngine* engine_ = nullptr;
    std::atomic<Readiness> readiness_{Readiness::starting};
};

}  // namespace tickgate::gateway
