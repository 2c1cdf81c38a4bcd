#include "feeds/update_channel.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tickgate::feeds {
namespace {

using Clock = std::chrono::steady_clock;

// A producer blocked on a full lane spins for about a microsecond (the consumer is usually in the
// middle of a drain), then yields its core for a while, then sleeps in steps short enough that
// the lane does not stay empty long after the consumer catches up.
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

// The producer's fast path must not pay for a StoreLoad fence on every publish: on x86 that is a
// locked instruction which waits for the just-written slot's cache lines, and it halves the
// throughput (measured ~30 M/s with the fence against 60+ M/s without on this machine). So the
// Dekker pair between publish() and wait_and_consume() is made asymmetric, as membarrier(2)
// describes: the producer keeps only a compiler barrier, and the consumer, on its way to sleep,
// calls membarrier(PRIVATE_EXPEDITED), which makes every running thread of the process execute a
// full memory barrier before the call returns. A producer's earlier tail store is then visible to
// the consumer's tail check, or the producer's flag load comes after that barrier and sees the
// flag. The consumer pays a few microseconds only when it is about to sleep anyway. Where the
// kernel refuses membarrier (old kernel, seccomp), both sides use seq_cst fences instead.
bool asymmetric_barrier_available() noexcept {
    static const bool available = [] {
        const long commands = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        if (commands < 0 || (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
        return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    }();
    return available;
}

void heavy_barrier() noexcept {
    // Cannot fail once registration succeeded; the seq_cst fence keeps the consumer's own side.
    ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Channel ids start at 1: 0 in a thread's LaneCache means "no lane yet".
std::atomic<std::uint64_t> next_channel_id{1};

}  // namespace

// A lane is one producer's SPSC ring plus the flag that says a thread holds it. The ring's two
// sides are cache-line aligned, so `claimed` (touched only when a thread starts or ends) does not
// share a line with either index.
struct UpdateChannel::Lane {
    explicit Lane(std::size_t capacity) : ring(capacity) {}
    SpscRing<protocol::MarketUpdate> ring;
    std::atomic<bool> claimed{true};  // created for the thread that asked, hence held from the start
};

// Every lane a thread holds, one per channel it has published to; released when the thread exits.
// Lanes are never handed back earlier: a thread that alternated between channels and got a
// different lane on return could have its own updates overtake each other.
struct UpdateChannel::ThreadClaims {
    struct Claim {
        std::uint64_t channel_id;
        std::weak_ptr<Lanes> lanes;  // expired once the channel is destroyed: nothing to release
        Lane* lane;
    };
    std::vector<Claim> claims;

    ~ThreadClaims() {
        for (const Claim& c : claims)
            if (const auto alive = c.lanes.lock()) c.lane->claimed.store(false, std::memory_order_release);
    }

    static ThreadClaims& mine() {
        static thread_local ThreadClaims claims;
        return claims;
    }
};

thread_local UpdateChannel::LaneCache UpdateChannel::last_lane_{};

UpdateChannel::Lanes::~Lanes() {
    for (std::size_t i = 0, n = count.load(std::memory_order_acquire); i < n; ++i)
        delete lane[i].load(std::memory_order_relaxed);
}

UpdateChannel::UpdateChannel(std::size_t lane_capacity, WakeBarrier barrier)
    : id_(next_channel_id.fetch_add(1, std::memory_order_relaxed)),
      lane_capacity_(std::bit_ceil(std::max<std::size_t>(lane_capacity, 1))),
      lanes_(std::make_shared<Lanes>(lane_capacity_)),
      asymmetric_(barrier == WakeBarrier::automatic && asymmetric_barrier_available()),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "UpdateChannel: eventfd");
}

UpdateChannel::~UpdateChannel() { ::close(wake_fd_); }

UpdateChannel::Lane& UpdateChannel::claim_lane() {
    ThreadClaims& mine = ThreadClaims::mine();
    std::erase_if(mine.claims, [](const ThreadClaims::Claim& c) { return c.lanes.expired(); });
    for (const auto& c : mine.claims) {
        if (c.channel_id == id_) {
            last_lane_ = {id_, c.lane};
            return *c.lane;
        }
    }

    Lane* lane = nullptr;
    {
        // Registration is rare (once per producer thread), so a mutex keeps it simple; the
        // consumer never takes it: it reads `count` and the lane pointers below it.
        std::lock_guard lock(lanes_->mutex);
        const std::size_t n = lanes_->count.load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < n && lane == nullptr; ++i) {
            // A lane given up by a thread that exited. Acquire pairs with that thread's release,
            // so its last push happens before our first one and the lane stays a single-producer
            // ring across the hand-over; what it left queued is drained before what we add.
            Lane* l = lanes_->lane[i].load(std::memory_order_relaxed);
            bool free = false;
            if (l->claimed.compare_exchange_strong(free, true, std::memory_order_acquire)) lane = l;
        }
        if (lane == nullptr) {
            if (n == kMaxProducers)
                throw std::length_error("UpdateChannel: more than " + std::to_string(kMaxProducers) +
                                        " producer threads at once");
            lane = new Lane(lane_capacity_);
            lanes_->lane[n].store(lane, std::memory_order_release);
            // Seq_cst, like the consumer's load of it in all_drained(): a consumer about to sleep
            // either sees the new lane or is seen waiting by the first publish into it.
            lanes_->count.store(n + 1, std::memory_order_seq_cst);
        }
    }
    mine.claims.push_back({id_, lanes_, lane});
    last_lane_ = {id_, lane};
    return *lane;
}

bool UpdateChannel::publish(const protocol::MarketUpdate& u, const std::stop_token& stop) {
    Lane& lane = last_lane_.channel_id == id_ ? *last_lane_.lane : claim_lane();
    if (!lane.ring.try_push(u)) {
        full_events_.fetch_add(1, std::memory_order_relaxed);
        if (!wait_and_push(lane, u, stop)) return false;
    }
    // Dekker with wait_and_consume(): the push stored the lane's tail, then a barrier, then we read
    // the flag; the consumer stores the flag (seq_cst), then a barrier, then reads every tail. One
    // of the two must see the other: either the consumer sees the update and does not sleep, or we
    // see the flag and wake it. With membarrier the consumer's barrier covers our side too, so
    // ours need only stop the compiler from loading the flag before storing the tail (see
    // asymmetric_barrier_available); without it, a seq_cst fence on each side.
    if (asymmetric_)
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
    if (consumer_waiting_.load(std::memory_order_relaxed) != 0) notify_consumer();
    return true;
}

std::size_t UpdateChannel::room() {
    Lane& lane = last_lane_.channel_id == id_ ? *last_lane_.lane : claim_lane();
    return lane_capacity_ - lane.ring.size();
}

bool UpdateChannel::wait_and_push(Lane& lane, const protocol::MarketUpdate& u, const std::stop_token& stop) {
    for (int attempt = 0;; ++attempt) {
        if (stop.stop_requested()) return false;
        if (attempt < kFullSpins)
            cpu_relax();
        else if (attempt < kFullSpins + kFullYields)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(kFullSleep);
        if (lane.ring.try_push(u)) return true;
    }
}

void UpdateChannel::notify_consumer() noexcept {
    // A producer on the consumer's own thread (a NATS feed read on worker 0, where the engine
    // drains): the eventfd would cost a write, a pass of epoll and a read to tell this thread
    // what it already knows, and clearing the flag would cost the consumer a membarrier to set it
    // again. So the flag stays up and the consumer is asked, through its own loop, to drain. This
    // keeps the rule arm_wake() relies on: while the flag stays up, no producer on another thread
    // has published since the last full arm, or one has and is about to write the eventfd (every
    // such producer's flag load comes after that arm's barrier, so it sees the flag).
    if (consumer_waiting_.load(std::memory_order_relaxed) == kEventfdSleeper &&
        same_thread_consumer_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
        // The id is set only while a wake is (set_same_thread_wake), so there is one to call.
        if (same_thread_woken_) return;
        same_thread_woken_ = true;
        same_thread_wake_();
        return;
    }
    // Only the producer that clears the flag pays for the syscall; the others see 0 and move on.
    const std::uint32_t sleeper = consumer_waiting_.exchange(0, std::memory_order_seq_cst);
    if (sleeper == 0) return;
    if (sleeper == kEventfdSleeper) {
        const std::uint64_t one = 1;
        // Cannot fail short of a counter overflow, which one write per arm_wake() never reaches.
        [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
        return;
    }
    wake_epoch_.fetch_add(1, std::memory_order_release);
    futex_wake_one(wake_epoch_);
}

void UpdateChannel::wake_consumer() noexcept {
    wake_requested_.store(true, std::memory_order_seq_cst);
    wake_epoch_.fetch_add(1, std::memory_order_release);
    futex_wake_one(wake_epoch_);
}

bool UpdateChannel::announce_sleep(std::uint32_t sleeper) noexcept {
    consumer_waiting_.store(sleeper, std::memory_order_seq_cst);
    if (asymmetric_) heavy_barrier();
    if (all_drained()) return true;
    consumer_waiting_.store(0, std::memory_order_relaxed);
    return false;
}

bool UpdateChannel::arm_wake() noexcept {
    // Still armed from the last time: only producers on this thread have published since (they
    // leave the flag up, see notify_consumer), and the caller has just found the lanes empty.
    const bool armed = consumer_waiting_.load(std::memory_order_relaxed) == kEventfdSleeper ||
                       announce_sleep(kEventfdSleeper);
    // The drain that `wake` asked for ends here, not at each try_consume(): cleared there, every
    // read of a feed on this thread between two turns of a long drain would start one more.
    if (armed) same_thread_woken_ = false;
    return armed;
}

void UpdateChannel::set_same_thread_wake(std::function<void()> wake) {
    same_thread_wake_ = std::move(wake);
    same_thread_woken_ = false;
    same_thread_consumer_.store(same_thread_wake_ ? std::this_thread::get_id() : std::thread::id{},
                                std::memory_order_release);
}

bool UpdateChannel::wake_pending() const noexcept {
    if (same_thread_woken_) return true;
    pollfd p{wake_fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

std::size_t UpdateChannel::depth() const noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0, n = lanes(); i < n; ++i) total += lanes_->lane[i].load(std::memory_order_acquire)->ring.size();
    return total;
}

std::size_t UpdateChannel::drain(std::span<protocol::MarketUpdate> out) noexcept {
    const std::size_t n = lanes();
    if (n == 0) return 0;
    // First pass: each lane gets a fair share of the batch, so a feed with a deep backlog cannot
    // fill every batch while another feed's updates wait. Second pass, only if some lane used up
    // its share: the rest of the batch goes to whoever still has updates, so a lone busy feed
    // still moves full batches. Starting at a different lane each call spreads the rounding.
    const std::size_t start = next_lane_ < n ? next_lane_ : 0;
    next_lane_ = start + 1 < n ? start + 1 : 0;
    const std::size_t share = (out.size() + n - 1) / n;
    std::size_t got = 0;
    bool more = false;
    for (std::size_t k = 0, i = start; k < n && got < out.size(); ++k, i = i + 1 < n ? i + 1 : 0) {
        Lane& lane = *lanes_->lane[i].load(std::memory_order_acquire);
        const std::size_t want = std::min(share, out.size() - got);
        const std::size_t took = lane.ring.pop_into(out.data() + got, want);
        got += took;
        more |= took == want;
    }
    for (std::size_t k = 0, i = start; more && k < n && got < out.size(); ++k, i = i + 1 < n ? i + 1 : 0)
        got += lanes_->lane[i].load(std::memory_order_acquire)->ring.pop_into(out.data() + got, out.size() - got);
    return got;
}

bool UpdateChannel::all_drained() const noexcept {
    // Seq_cst loads of the lane count and of every tail, after the flag store and the barrier:
    // the consumer's half of the Dekker pair (see publish and claim_lane).
    const std::size_t n = lanes_->count.load(std::memory_order_seq_cst);
    for (std::size_t i = 0; i < n; ++i)
        if (!lanes_->lane[i].load(std::memory_order_acquire)->ring.drained()) return false;
    return true;
}

std::size_t UpdateChannel::consume(std::span<protocol::MarketUpdate> out, std::chrono::milliseconds max_wait) {
    if (out.empty()) return 0;
    if (std::size_t n = drain(out)) return n;
    for (int i = 0; i < kEmptySpins; ++i) {
        cpu_relax();
        if (std::size_t n = drain(out)) return n;
    }
    return wait_and_consume(out, Clock::now() + max_wait);
}

std::size_t UpdateChannel::wait_and_consume(std::span<protocol::MarketUpdate> out, Clock::time_point deadline) {
    for (;;) {
        if (wake_requested_.exchange(false, std::memory_order_seq_cst)) return 0;
        // The epoch is read before the flag is raised, so any notify that sees the flag changes
        // the word after this read and the futex call below cannot sleep through it.
        const std::uint32_t epoch = wake_epoch_.load(std::memory_order_acquire);
        if (!announce_sleep(kFutexSleeper)) {
            // A lane's tail moves only once its element is written, so what we saw is ready.
            if (std::size_t n = drain(out)) return n;
            continue;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            consumer_waiting_.store(0, std::memory_order_relaxed);
            return 0;
        }
        futex_wait(wake_epoch_, epoch, deadline - now);
        consumer_waiting_.store(0, std::memory_order_relaxed);
        if (std::size_t n = drain(out)) return n;
        if (Clock::now() >= deadline) return 0;
    }
}

}  // namespace tickgate::feeds
