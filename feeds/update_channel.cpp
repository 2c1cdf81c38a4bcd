#include "feeds/update_channel.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tickgate::feeds {
namespace {

using Clock = std::chrono::steady_clock;

// A producer blocked on a full ring spins for about a microsecond (the consumer is usually in the
// middle of a drain), then yields its core for a while, then sleeps in steps short enough that
// the ring does not stay empty long after the consumer catches up.
constexpr int kFullSpins = 256;
constexpr int kFullYields = 64;
constexpr auto kFullSleep = std::chrono::microseconds(50);

// The consumer spins this many times before it sleeps: long enough to catch the next update of
// a busy feed without a syscall, short enough not to burn a core when feeds are quiet.
constexpr int kEmptySpins = 512;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// std::atomic::wait has no timeout, hence the raw futex. The kernel compares the word with
// `expected` under its own lock, so a change made before the call makes it return at once.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Clock::duration timeout) noexcept {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

UpdateChannel::UpdateChannel(std::size_t capacity) : ring_(capacity) {}

bool UpdateChannel::publish(const TickerUpdate& u, const std::stop_token& stop) {
    if (!ring_.try_push(u)) {
        full_events_.fetch_add(1, std::memory_order_relaxed);
        if (!wait_and_push(u, stop)) return false;
    }
    // This seq_cst load follows the ring's seq_cst tail CAS; the consumer stores the flag and then
    // loads the tail, both seq_cst. One of the two sides must see the other: either the consumer
    // sees the claimed slot and does not sleep, or we see the flag and wake it.
    if (consumer_waiting_.load(std::memory_order_seq_cst) != 0) notify_consumer();
    return true;
}

bool UpdateChannel::wait_and_push(const TickerUpdate& u, const std::stop_token& stop) {
    for (int attempt = 0;; ++attempt) {
        if (stop.stop_requested()) return false;
        if (attempt < kFullSpins)
            cpu_relax();
        else if (attempt < kFullSpins + kFullYields)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(kFullSleep);
        if (ring_.try_push(u)) return true;
    }
}

void UpdateChannel::notify_consumer() noexcept {
    // Only the producer that clears the flag pays for the syscall; the others see 0 and move on.
    if (consumer_waiting_.exchange(0, std::memory_order_seq_cst) == 0) return;
    wake_epoch_.fetch_add(1, std::memory_order_release);
    futex_wake_one(wake_epoch_);
}

void UpdateChannel::wake_consumer() noexcept {
    wake_requested_.store(true, std::memory_order_seq_cst);
    wake_epoch_.fetch_add(1, std::memory_order_release);
    futex_wake_one(wake_epoch_);
}

std::size_t UpdateChannel::consume(std::span<TickerUpdate> out, std::chrono::milliseconds max_wait) {
    if (out.empty()) return 0;
    if (std::size_t n = ring_.pop_into(out.data(), out.size())) return n;
    for (int i = 0; i < kEmptySpins; ++i) {
        cpu_relax();
        if (ring_.front() != nullptr) return ring_.pop_into(out.data(), out.size());
    }
    return wait_and_consume(out, Clock::now() + max_wait);
}

std::size_t UpdateChannel::wait_and_consume(std::span<TickerUpdate> out, Clock::time_point deadline) {
    for (;;) {
        if (wake_requested_.exchange(false, std::memory_order_seq_cst)) return 0;
        // The epoch is read before the flag is raised, so any notify that sees the flag changes
        // the word after this read and the futex call below cannot sleep through it.
        const std::uint32_t epoch = wake_epoch_.load(std::memory_order_acquire);
        consumer_waiting_.store(1, std::memory_order_seq_cst);
        if (!ring_.nothing_claimed()) {
            consumer_waiting_.store(0, std::memory_order_relaxed);
            return await_claimed(out, deadline);
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            consumer_waiting_.store(0, std::memory_order_relaxed);
            return 0;
        }
        futex_wait(wake_epoch_, epoch, deadline - now);
        consumer_waiting_.store(0, std::memory_order_relaxed);
        if (std::size_t n = ring_.pop_into(out.data(), out.size())) return n;
        if (Clock::now() >= deadline) return 0;
    }
}

std::size_t UpdateChannel::await_claimed(std::span<TickerUpdate> out, Clock::time_point deadline) {
    // A producer has claimed the next slot but is still writing it (or was preempted while doing
    // so): it will not notify us, so poll until the element appears.
    for (int attempt = 0;; ++attempt) {
        if (std::size_t n = ring_.pop_into(out.data(), out.size())) return n;
        if (Clock::now() >= deadline) return 0;
        if (attempt < kFullSpins)
            cpu_relax();
        else
            std::this_thread::yield();
    }
}

}  // namespace tickgate::feeds
