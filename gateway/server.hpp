#pragma once
// The hub: owns the feeds, the ring, the broadcast engine, the workers, the listener and the
// metrics endpoint, and runs the start-up and shutdown sequence. main() builds one and runs it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/connection_slot.hpp"

namespace boost::asio::ssl {
class context;
}

namespace tickgate::feeds {
class UpdateChannel;
class FeedAdapter;
}

namespace tickgate::runtime {
class MetricsServer;
}

namespace tickgate::gateway {

class BroadcastEngine;
class Metrics;
class NewestSeqTable;
class Listener;
class Worker;

/// tickgate_connections_total{result}: what became of each accepted TCP connection.
enum class ConnectionResult { websocket, http, rejected_limit, rejected_origin, bad_handshake, tls_error, timeout, count };
const char* connection_result_name(ConnectionResult r) noexcept;

class Server {
public:
    explicit Server(Config config);
    ~Server();

    /// Starts everything, serves until SIGINT/SIGTERM, drains and returns the process exit code
    /// (1 with a one-line error on stderr when start-up fails).
    int run();

    const Config& config() const noexcept { return config_; }
    bool ready() const noexcept { return ready_.load(std::memory_order_relaxed); }
    bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }
    /// /healthz: HTTP status and JSON body.
    std::pair<int, std::string> health_report() const;
    std::shared_ptr<boost::asio::ssl::context> tls_context() const;
    ConnectionLimits& limits() noexcept { return limits_; }
    void count_connection(ConnectionResult r) noexcept { results_[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t connection_results(ConnectionResult r) const noexcept { return results_[static_cast<int>(r)].load(std::memory_order_relaxed); }
    std::uint64_t accept_errors() const noexcept { return accept_errors_.load(std::memory_order_relaxed); }
    void count_accept_error() noexcept { accept_errors_.fetch_add(1, std::memory_order_relaxed); }

    const std::vector<std::unique_ptr<Worker>>& workers() const noexcept { return workers_; }
    const BroadcastEngine& engine() const noexcept { return *engine_; }
    const feeds::UpdateChannel& channel() const noexcept;
    /// The feeds in --feed order (valid once started; /metrics reads their upstream stats).
    std::vector<const feeds::FeedAdapter*> feed_adapters() const;

private:
    bool start(std::string& error);
    bool load_tls(std::string& error);
    void reload_tls();
    void shutdown();

    Config config_;
    ConnectionLimits limits_;
    int start_exit_code_ = 1;
    std::atomic<bool> ready_{false};
    std::atomic<bool> draining_{false};
    mutable std::mutex tls_mutex_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::string cert_path_, key_path_;
    std::atomic<std::uint64_t> results_[static_cast<int>(ConnectionResult::count)] = {};
    std::atomic<std::uint64_t> accept_errors_{0};

    struct Feeds;
    std::unique_ptr<Feeds> feeds_;
    std::unique_ptr<NewestSeqTable> newest_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<BroadcastEngine> engine_;  // after workers_: it is destroyed first (it lives on worker 0)
    std::unique_ptr<Listener> listener_;
    std::unique_ptr<Metrics> metrics_model_;
    std::unique_ptr<runtime::MetricsServer> metrics_;
};

}  // namespace tickgate::gateway
