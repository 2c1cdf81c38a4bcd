#pragma once
// The composition root: builds the parts (TLS contexts, admission, health, the polling directory,
// feeds and their ring, the broadcast engine, the workers, the listener, the metrics endpoint),
// wires them together, and runs the start-up and shutdown sequence. main() builds one and runs it.

#include <memory>
#include <string>
#include <vector>

#include "gateway/admission.hpp"
#include "gateway/auth/access_control.hpp"
#include "gateway/config.hpp"
#include "gateway/connection_context.hpp"
#include "gateway/health.hpp"
#include "gateway/reloads.hpp"
#include "gateway/session/polling_directory.hpp"
#include "gateway/tls_context_store.hpp"

namespace tickgate::feeds {
class UpdateChannel;
class FeedAdapter;
class MessageBus;
}

namespace tickgate::runtime {
class MetricsServer;
}

namespace tickgate::gateway::admin {
class AdminKey;
class AdminApi;
class AdminServer;
}

namespace tickgate::gateway {

class BroadcastEngine;
class Metrics;
class NewestSeqTable;
class Listener;
class Worker;
class TopicHistory;
class RecoveryStore;

class Server {
public:
    explicit Server(Config config);
    ~Server();

    /// Starts everything, serves until SIGINT/SIGTERM, drains and returns the process exit code
    /// (1 with a one-line error on stderr when start-up fails).
    int run();

    // What /metrics reads.
    const Admission& admission() const noexcept { return admission_; }
    const std::vector<std::unique_ptr<Worker>>& workers() const noexcept { return workers_; }
    const BroadcastEngine& engine() const noexcept { return *engine_; }
    /// The history (--history), or null when it is off.
    const TopicHistory* history() const noexcept { return history_.get(); }
    /// Socket.IO sessions kept for recovery (--socketio-recovery-ms), or null when it is off.
    const RecoveryStore* recovery_store() const noexcept { return recovery_.get(); }
    const feeds::UpdateChannel& channel() const noexcept;
    /// "uring" or "epoll": how the workers' writes reach the kernel (--io-backend, resolved).
    const char* io_backend() const noexcept { return uring_ ? "uring" : "epoll"; }
    /// The feeds in --feed order (valid once started; /metrics reads their upstream stats).
    std::vector<const feeds::FeedAdapter*> feed_adapters() const;
    /// The operator API's calls, or null when --admin-listen is not set.
    const admin::AdminApi* admin_api() const noexcept { return admin_api_.get(); }
    /// What SIGHUP reloaded, and what it refused.
    const ReloadCounts& reloads() const noexcept { return reloads_; }

private:
    bool start(std::string& error);
    /// Resolves --io-backend: false (with `error`) only when uring was asked for and cannot be had.
    bool choose_io_backend(std::string& error);
    /// Client publishes go through the first feed that links gateways (NATS), if any.
    void wire_message_bus();
    /// --admin-listen: binds the operator API's port, over TLS unless --admin-tls says otherwise.
    bool open_admin(const std::vector<Worker*>& workers, std::string& error);
    void shutdown();

    Config config_;
    int start_exit_code_ = 1;
    bool uring_ = false;
    TlsContextStore tls_{config_};
    ReloadCounts reloads_;
    Admission admission_;
    Health health_;
    PollingDirectory polling_;
    auth::AccessControl access_{config_};
    ConnectionContext connections_{config_, admission_, health_, polling_, &access_};

    struct Feeds;
    std::unique_ptr<Feeds> feeds_;
    std::unique_ptr<NewestSeqTable> newest_;
    std::unique_ptr<TopicHistory> history_;  // before workers_ and engine_: both hold it
    std::unique_ptr<RecoveryStore> recovery_;  // before workers_: their sessions use it
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<BroadcastEngine> engine_;  // after workers_: it is destroyed first (it lives on worker 0)
    feeds::MessageBus* bus_ = nullptr;         // the first feed's link to other gateways, or null (owned by feeds_)
    std::unique_ptr<Listener> listener_;
    std::unique_ptr<Metrics> metrics_model_;
    std::unique_ptr<runtime::MetricsServer> metrics_;
    // The operator API, last: it stops first, while the workers it calls still run.
    std::unique_ptr<admin::AdminKey> admin_key_;
    std::unique_ptr<admin::AdminApi> admin_api_;
    std::unique_ptr<admin::AdminServer> admin_;
};

}  // namespace tickgate::gateway
