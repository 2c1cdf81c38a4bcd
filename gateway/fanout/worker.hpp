#pragma once
// One I/O thread: its own io_context, the sessions pinned to it, and its copy of the subscription
// registry. Other threads only post work to it (update batches, status frames, shutdown), so a
// message crosses threads once per worker, never once per client.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/fanout/subscription_registry.hpp"
#include "gateway/fanout/update_batch.hpp"
#include "gateway/stats.hpp"

namespace tickgate::gateway {

class NewestSeqTable;
class TopicHistory;
class RecoveryStore;
class UringWriter;

class Worker {
public:
    /// `newest` (may be null) lets the worker skip updates already superseded when it is more than
    /// config.behind_skip_ms behind (never when that is 0).
    Worker(unsigned index, const Config& config, const NewestSeqTable* newest = nullptr);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    unsigned index() const noexcept { return index_; }
    boost::asio::io_context& io() noexcept { return io_; }
    const Config& config() const noexcept { return config_; }
    WorkerStats& stats() noexcept { return stats_; }
    const WorkerStats& stats() const noexcept { return stats_; }

    /// Sends this worker's session writes through io_uring (see uring_writer.hpp); before start().
    /// False with `error` set when the ring cannot be set up: the worker stays on epoll.
    bool use_uring(unsigned max_files, std::string& error);
    void drop_uring() noexcept;
    /// The batch writer, or nullptr on the epoll backend.
    UringWriter* uring() noexcept { return uring_.get(); }

    void start();  // runs the io_context on a new thread
    void join();

    // Any thread.
    /// Worker 0, or a worker with sessions: the batch runs in a handler of its own. Any other
    /// worker keeps it waiting, in order, until a session attaches (before its first request),
    /// the liveness sweep, or 128 have gathered.
    void post_batch(std::shared_ptr<const UpdateBatch> batch);
    /// A feed state change: sent to every session now, and to sessions that open while it holds.
    void post_status(std::string feed, bool stale, std::string json);
    /// A feed's notice that is not a state (its epoch changed): sent to every session now only.
    void post_notice(std::string json);
    /// Stops taking sessions and closes every session with 1001 "going away".
    void post_drain();
    /// An operator's announcement (fanout/announcements.hpp): queued on every open session, or only
    /// on the subscribers of `topic` (empty: every session). done(sessions it was queued for) runs
    /// on this worker's thread.
    void post_announcement(std::shared_ptr<const StatusFrames> frames, std::string topic,
                           std::function<void(std::size_t)> done);
    void stop();  // stops the io_context
    std::size_t pending_batches() const noexcept { return pending_batches_.load(std::memory_order_relaxed); }
    std::size_t session_count() const noexcept { return session_count_.load(std::memory_order_relaxed); }

    /// Before start(): the gateway's history (--history), or null.
    void set_history(const TopicHistory* history) noexcept { history_ = history; }
    /// Any thread: null when --history is off.
    const TopicHistory* history() const noexcept { return history_; }
    /// Before start(): the store of Socket.IO sessions kept for connection state recovery
    /// (--socketio-recovery-ms, session/recovery_store.hpp), or null. With it, Socket.IO live
    /// events carry their offset.
    void set_recovery_store(RecoveryStore* store) noexcept {
        recovery_store_ = store;
        registry_.set_socketio_offsets(store != nullptr);
    }
    RecoveryStore* recovery_store() const noexcept { return recovery_store_; }

    // This worker's thread only.
    /// Without a side effect on purpose: a request's handling reads it several times and relies on
    /// nothing changing in between. Batches a worker without sessions left waiting are taken at
    /// the points post_batch lists, never here.
    SubscriptionRegistry& registry() noexcept { return registry_; }
    /// The worker keeps a session alive from attach() until detach(), its last call.
    void attach(std::shared_ptr<Subscriber> session);
    void detach(Subscriber& session);
    /// Calls f(Subscriber&) for every attached session (the operator API's census and disconnect);
    /// f may close sessions.
    template <typename F>
    void for_each_session(F&& f);
    /// Wall clock in ns, refreshed once per batch or handler that asks for it.
    std::int64_t now_ns() const;
    /// Status frames of feeds that are stale now, for a newly opened session of that wire protocol.
    std::vector<FramePtr> current_stale_statuses(Wire wire) const;
    bool draining() const noexcept { return draining_; }
    /// Where this worker's sessions read into: a read is consumed before the next one starts, so
    /// one buffer serves every connection (16 KiB: one full TLS record).
    std::array<char, 16 * 1024>& read_scratch() noexcept { return read_scratch_; }

private:
    void on_batch(const UpdateBatch& batch);
    /// Runs every batch waiting in inbox_, in order.
    void take_inbox();
    void take_batches(std::size_t most);
    void flush_dirty();
    void schedule_sweep();
    void on_sweep();
    std::chrono::milliseconds sweep_interval() const;
    /// Throttled streams (fanout/subscription_registry.hpp): one timer for every interval, set for
    /// the next multiple of an interval (since the Unix epoch) that has subscribers here, so every
    /// worker ticks a (topic, interval) at the same wall-clock moment.
    void arm_throttle();
    void on_throttle_timer();

    const unsigned index_;
    const Config& config_;
    const std::int64_t behind_ns_;
    const NewestSeqTable* newest_;
    const TopicHistory* history_ = nullptr;
    RecoveryStore* recovery_store_ = nullptr;
    boost::asio::io_context io_{1};
    boost::asio::steady_timer sweep_timer_;
    std::int64_t last_sweep_ns_ = 0;
    boost::asio::steady_timer throttle_timer_;
    bool throttle_armed_ = false;
    std::array<std::int64_t, kThrottleCount> next_tick_ms_{};  // per interval; 0: not ticking
    std::thread thread_;
    WorkerStats stats_;
    SubscriptionRegistry registry_;
    std::unordered_map<Subscriber*, std::shared_ptr<Subscriber>> sessions_;
    unsigned batches_since_flush_ = 0;
    std::map<std::string, StatusFrames> stale_statuses_;
    bool draining_ = false;
    std::array<char, 16 * 1024> read_scratch_;
    std::atomic<std::size_t> pending_batches_{0};
    // Batches in hand-off order. A worker without sessions is not woken for them (on a 2-core VM a
    // wake-up costs tens of µs, and with no client the batch only refreshes latest values): they
    // wait until a session attaches, the sweep, or until kMaxParkedBatches have gathered. The count
    // is stored under inbox_mutex_ by attach(), so a batch is either taken by attach() or wakes the
    // worker; from then on every batch has its own handler, as if the inbox were not there.
    std::mutex inbox_mutex_;
    std::deque<std::shared_ptr<const UpdateBatch>> inbox_;
    std::atomic<std::size_t> session_count_{0};
    // Last: destroyed first, while the io_context and the stats its sessions touch still exist.
    std::unique_ptr<UringWriter> uring_;
};

template <typename F>
void Worker::for_each_session(F&& f) {
    // A closed session may detach at once: keep each alive, and walk a copy.
    std::vector<std::shared_ptr<Subscriber>> all;
    all.reserve(sessions_.size());
    for (auto& [raw, session] : sessions_) all.push_back(session);
    for (auto& session : all) f(*session);
}

}  // namespace tickgate::gateway
