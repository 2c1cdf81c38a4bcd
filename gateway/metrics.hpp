#pragma once
// The Prometheus view of the gateway. Hot-path counts live in per-thread blocks (stats.hpp); a
// scrape folds them into prometheus-cpp's registry and serializes it in the text format.

#include <memory>
#include <mutex>
#include <string>

namespace tickgate::gateway {

class Server;

class Metrics {
public:
    explicit Metrics(const Server& server);
    ~Metrics();
    /// The text exposition format. Thread-safe (scrapes are serialized).
    std::string scrape();

private:
    struct Families;
    const Server& server_;
    std::mutex mutex_;
    std::unique_ptr<Families> families_;
};

}  // namespace tickgate::gateway
