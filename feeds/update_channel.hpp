#pragma once
// What feeds write into and the broadcast engine reads from: one single-producer lane (an SpscRing
// of MarketUpdates) per producer thread, the consumer's fair drain over the lanes, the lane-full
// policy and the consumer's wake-up.
//
// Why lanes: every feed runs on its own thread, so giving each one its own SPSC ring removes the
// only contended write of a shared MPSC ring (the CAS on its tail) from the hot path. Updates of one
// producer stay in order (one lane, FIFO); updates of different producers may interleave in any
// order, which is fine because each topic belongs to one feed, hence to one thread.
//
// Lanes are registered lazily: the first publish() from a thread claims a free lane of this channel
// (or creates one) and remembers it in a thread-local cache, so later publishes cost one compare.
// A thread keeps its lane until it exits; the lane, with whatever is still queued in it, then goes
// to the next thread that needs one. At most kMaxProducers threads may hold a lane at once.
//
// Lane-full policy: a producer that finds its lane full waits (spins briefly, then sleeps in short
// steps) until the consumer frees a slot. Nothing is dropped; each publish that had to wait is
// counted once (full_events), which operators see as tickgate_ring_full_total. A feed that cannot
// wait (a network subscriber) sees the delay as its own back-pressure. A full lane blocks only its
// own producer: the other feeds keep flowing.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <thread>

#include "feeds/spsc_ring.hpp"
#include "protocol/model/market_update.hpp"

namespace tickgate::feeds {

class UpdateChannel {
public:
    /// Producer threads that may hold a lane at the same time (one per feed in the gateway).
    static constexpr std::size_t kMaxProducers = 64;

    /// How publish() and a consumer about to sleep make sure one sees the other (no lost wake-up).
    enum class WakeBarrier {
        automatic,  // membarrier(2) on the consumer's way to sleep, no CPU fence per publish;
                    // seq_cst fences where the kernel refuses membarrier
        fences,     // a seq_cst fence per publish and per sleep: tests and benchmarks compare it
    };

    /// lane_capacity: slots per producer lane, rounded up to a power of two. Lanes are allocated
    /// when a producer first publishes, not here.
    explicit UpdateChannel(std::size_t lane_capacity, WakeBarrier barrier = WakeBarrier::automatic);
    ~UpdateChannel();

    UpdateChannel(const UpdateChannel&) = delete;
    UpdateChannel& operator=(const UpdateChannel&) = delete;

    /// Producer side, any thread; the channel must outlive every publish. Waits while this
    /// thread's lane is full; returns false only when `stop` was requested while waiting (the
    /// update is then not published). Throws std::length_error if more than kMaxProducers threads
    /// would hold a lane at once (only on a thread's first publish).
    bool publish(const protocol::MarketUpdate& u, const std::stop_token& stop);

    /// Consumer side, one thread. Moves up to out.size() updates into `out` and returns how many,
    /// taking from the lanes in turn (a fair share of `out` per lane first, the rest after, and a
    /// different lane first on each call) so a busy feed cannot starve a quiet one.
    /// When every lane is empty it waits up to max_wait for a producer (no busy loop beyond a short
    /// spin), returning 0 on timeout or after wake_consumer().
    std::size_t consume(std::span<protocol::MarketUpdate> out, std::chrono::milliseconds max_wait);

    /// Consumer side, for a consumer that sleeps in its own event loop instead of in consume():
    /// takes what is queued now (the same fair drain), never waits.
    std::size_t try_consume(std::span<protocol::MarketUpdate> out) noexcept { return drain(out); }
    /// That consumer, once try_consume() came back empty and before it goes back to its loop:
    /// false when updates arrived meanwhile (take them instead of sleeping); true when the next
    /// publish from another thread will make wake_fd() readable (or one already has: a wake-up
    /// may find nothing) and the next from this thread calls the same-thread wake.
    bool arm_wake() noexcept;
    /// An eventfd (non-blocking) that a publish after arm_wake() makes readable. The consumer
    /// watches it with poll/epoll and reads it to reset it.
    int wake_fd() const noexcept { return wake_fd_; }
    /// That consumer, on its own thread: a producer on this same thread (a feed read on the
    /// consumer's event loop) that publishes after arm_wake() calls `wake` instead, once until the
    /// next arm_wake() that returns true (so a drain in progress, which will see what it publishes,
    /// is never asked for twice), and leaves the consumer armed, so that arm_wake() costs no barrier.
    /// `wake` must only schedule the drain (it runs inside the producer's publish). An empty
    /// function turns this off. See update_channel.cpp for why this is safe.
    void set_same_thread_wake(std::function<void()> wake);
    /// That consumer, on its own thread, after arm_wake(): whether a wake-up is already on its way
    /// or a drain under way (the eventfd is readable, or `wake` was called since the last arm), as
    /// against updates waiting unannounced.
    bool wake_pending() const noexcept;

    /// Producer side: free slots in the calling thread's lane (claiming one on first use). A
    /// producer that runs on the consumer's own thread must never wait in publish() (nothing would
    /// drain its lane): it publishes only while room() says its updates fit.
    std::size_t room();

    /// Any thread. Makes a waiting consume() return early (used at shutdown).
    void wake_consumer() noexcept;

    /// Any thread; approximate while producers and consumer are active.
    std::uint64_t full_events() const noexcept { return full_events_.load(std::memory_order_relaxed); }
    /// Updates queued over all lanes.
    std::size_t depth() const noexcept;
    /// Slots over all lanes allocated so far (lanes() * lane_capacity()).
    std::size_t capacity() const noexcept { return lanes() * lane_capacity_; }
    std::size_t lane_capacity() const noexcept { return lane_capacity_; }
    /// Lanes allocated so far: the most producers that held one at the same time.
    std::size_t lanes() const noexcept { return lanes_->count.load(std::memory_order_acquire); }

private:
    struct Lane;
    struct ThreadClaims;
    // The calling thread's most recent lane: the whole lookup on publish's fast path. Trivially
    // destructible and constant-initialised, so reading it is a plain thread-local load.
    struct LaneCache {
        std::uint64_t channel_id = 0;
        Lane* lane = nullptr;
    };
    static thread_local LaneCache last_lane_;

    // The lanes live in a block shared with the threads that claimed one, so a producer thread that
    // exits after the channel is gone can tell (its weak_ptr has expired) and leave them alone.
    struct Lanes {
        explicit Lanes(std::size_t lane_capacity) : lane_capacity(lane_capacity) {}
        ~Lanes();
        const std::size_t lane_capacity;
        std::mutex mutex;                                       // serialises creating lanes
        std::array<std::atomic<Lane*>, kMaxProducers> lane{};   // [0, count) are set, never reset
        std::atomic<std::size_t> count{0};
    };

    Lane& claim_lane();
    bool wait_and_push(Lane& lane, const protocol::MarketUpdate& u, const std::stop_token& stop);
    static constexpr std::uint32_t kFutexSleeper = 1, kEventfdSleeper = 2;
    void notify_consumer() noexcept;
    /// Raises the flag, then the consumer's half of the barrier: true when every lane is empty.
    bool announce_sleep(std::uint32_t sleeper) noexcept;
    std::size_t drain(std::span<protocol::MarketUpdate> out) noexcept;
    bool all_drained() const noexcept;
    std::size_t wait_and_consume(std::span<protocol::MarketUpdate> out, std::chrono::steady_clock::time_point deadline);

    const std::uint64_t id_;  // unique per channel for the life of the process: the thread-local cache's key
    const std::size_t lane_capacity_;
    const std::shared_ptr<Lanes> lanes_;
    const bool asymmetric_;  // membarrier usable: publish needs no CPU fence (see update_channel.cpp)
    std::size_t next_lane_ = 0;  // consumer only: the lane drained first by the next consume()
    std::atomic<std::uint64_t> full_events_{0};
    // 0: the consumer is not asleep; kFutexSleeper or kEventfdSleeper: how to wake it.
    alignas(kCacheLine) std::atomic<std::uint32_t> consumer_waiting_{0};
    std::atomic<std::uint32_t> wake_epoch_{0};     // the futex word: bumped by every wake-up
    std::atomic<bool> wake_requested_{false};      // wake_consumer() was called: next wait returns 0
    const int wake_fd_;                            // eventfd of arm_wake()
    // set_same_thread_wake(): the consumer's thread (read by producers to tell whether they run
    // on it), and what only that thread touches.
    std::atomic<std::thread::id> same_thread_consumer_{};
    std::function<void()> same_thread_wake_;
    bool same_thread_woken_ = false;  // `wake` was called since the last arm_wake() that returned true
};

}  // namespace tickgate::feeds
