#pragma once
// What feeds write into and the broadcast engine reads from: the MPSC ring of TickerUpdates plus
// the ring-full policy and the consumer's wake-up.
//
// Ring-full policy: a producer that finds the ring full waits (spins briefly, then sleeps in short
// steps) until the consumer frees a slot. Nothing is dropped; each time a producer finds the ring
// full it is counted (full_events), which operators see as tickgate_ring_full_total. A feed that
// cannot wait (a network subscriber) sees the delay as its own back-pressure.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stop_token>

#include "feeds/mpsc_ring.hpp"
#include "feeds/ticker_update.hpp"

namespace tickgate::feeds {

class UpdateChannel {
public:
    explicit UpdateChannel(std::size_t capacity);

    /// Producer side, any thread. Waits while the ring is full; returns false only when `stop`
    /// was requested while waiting (the update is then not published).
    bool publish(const TickerUpdate& u, const std::stop_token& stop);

    /// Consumer side, one thread. Moves up to out.size() updates into `out` and returns how many.
    /// When the ring is empty it waits up to max_wait for a producer (no busy loop beyond a short
    /// spin), returning 0 on timeout or after wake_consumer().
    std::size_t consume(std::span<TickerUpdate> out, std::chrono::milliseconds max_wait);

    /// Makes a waiting consume() return early (used at shutdown).
    void wake_consumer() noexcept;

    std::uint64_t full_events() const noexcept { return full_events_.load(std::memory_order_relaxed); }
    std::size_t depth() const noexcept { return ring_.size(); }
    std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
    bool wait_and_push(const TickerUpdate& u, const std::stop_token& stop);
    void notify_consumer() noexcept;
    std::size_t wait_and_consume(std::span<TickerUpdate> out, std::chrono::steady_clock::time_point deadline);
    std::size_t await_claimed(std::span<TickerUpdate> out, std::chrono::steady_clock::time_point deadline);

    MpscRing<TickerUpdate> ring_;
    std::atomic<std::uint64_t> full_events_{0};
    alignas(64) std::atomic<std::uint32_t> consumer_waiting_{0};
    std::atomic<std::uint32_t> wake_epoch_{0};     // the futex word: bumped by every wake-up
    std::atomic<bool> wake_requested_{false};      // wake_consumer() was called: next wait returns 0
};

}  // namespace tickgate::feeds
