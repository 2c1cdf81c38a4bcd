// MarketUpdate through UpdateChannel (what feeds and the broadcast engine use: one SpscRing lane per
// producer, publish() with its full policy and wake-up fence, consume() with its fair drain) and
// through a bare SpscRing, beside Boost.Lockfree's spsc_queue and queue, in one binary so the
// figures compare like with like. Throughput: producers push as fast as they can, the consumer
// (the benchmark thread) drains in batches of kBatch; items/s is what it receives. Latency: one
// update bounced between two threads through two queues, time per iteration = one round trip.
//
// On a 2-core machine the consumer is pinned to CPU 1 and every producer to CPU 0, so 2P means two
// producers time-sliced on one core: it measures what sharing costs (UpdateChannel: two lanes and
// the drain's round robin; boost::lockfree::queue: its CAS under contention), not two cores' worth
// of pushing.

#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <memory>
#include <stop_token>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "feeds/spsc_ring.hpp"
#include "protocol/model/market_update.hpp"
#include "feeds/update_channel.hpp"

namespace {

using tickgate::feeds::SpscRing;
using tickgate::protocol::MarketUpdate;
using tickgate::feeds::UpdateChannel;

constexpr std::size_t kCapacity = 4096;
constexpr std::size_t kBatch = 256;

void relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

void pin_to(int cpu) {
    if (static_cast<int>(std::thread::hardware_concurrency()) <= cpu) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void unpin() {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c) CPU_SET(c, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Uniform face over the queues: push one, pop up to n.
struct Ring {
    SpscRing<MarketUpdate> q{kCapacity};
    bool push(const MarketUpdate& u) { return q.try_push(u); }
    std::size_t pop(MarketUpdate* out, std::size_t n) { return q.pop_into(out, n); }
};

// publish() waits by itself while the caller's lane is full, so push() only fails once the
// benchmark stops the producers; consume() returns at once while any lane holds updates.
template <UpdateChannel::WakeBarrier kBarrier>
struct Channel {
    UpdateChannel q{kCapacity, kBarrier};
    std::stop_source stop;
    const std::stop_token token = stop.get_token();  // one token for all: copying one per push costs an atomic RMW
    bool push(const MarketUpdate& u) { return q.publish(u, token); }
    std::size_t pop(MarketUpdate* out, std::size_t n) { return q.consume({out, n}, std::chrono::milliseconds(0)); }
    void stop_producers() { stop.request_stop(); }
};

struct BoostSpsc {
    boost::lockfree::spsc_queue<MarketUpdate> q{kCapacity};
    bool push(const MarketUpdate& u) { return q.push(u); }
    std::size_t pop(MarketUpdate* out, std::size_t n) { return q.pop(out, n); }
};

struct BoostQueue {
    boost::lockfree::queue<MarketUpdate, boost::lockfree::fixed_sized<true>> q{kCapacity};
    bool push(const MarketUpdate& u) { return q.push(u); }
    std::size_t pop(MarketUpdate* out, std::size_t n) {
        std::size_t got = 0;
        while (got < n && q.pop(out[got])) ++got;
        return got;
    }
};

template <typename Queue>
void BM_Throughput(benchmark::State& state) {
    const auto producers = static_cast<int>(state.range(0));
    auto queue = std::make_unique<Queue>();
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            pin_to(0);
            MarketUpdate u;
            u.set_topic("ticker.BTC-USD");
            u.feed = static_cast<std::uint16_t>(p);
            while (!stop.load(std::memory_order_relaxed)) {
                ++u.seq;
                while (!queue->push(u)) {
                    if (stop.load(std::memory_order_relaxed)) return;
                    relax();
                }
            }
        });
    }
    pin_to(1);
    std::vector<MarketUpdate> out(kBatch);
    for (auto _ : state) {
        for (std::size_t got = 0; got < kBatch;) {
            const std::size_t n = queue->pop(out.data() + got, kBatch - got);
            if (n == 0) relax();
            got += n;
        }
        benchmark::DoNotOptimize(out.data());
    }
    stop = true;
    if constexpr (requires { queue->stop_producers(); }) queue->stop_producers();  // a producer may be waiting on a full lane
    for (auto& t : threads) t.join();
    unpin();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}

template <typename Queue>
void BM_RoundTrip(benchmark::State& state) {
    auto ping = std::make_unique<Queue>();
    auto pong = std::make_unique<Queue>();
    std::atomic<bool> stop{false};
    std::thread echo([&] {
        pin_to(0);
        MarketUpdate u;
        while (!stop.load(std::memory_order_relaxed)) {
            if (ping->pop(&u, 1) == 1) {
                while (!pong->push(u)) relax();
            }
        }
    });
    pin_to(1);
    MarketUpdate u;
    for (auto _ : state) {
        while (!ping->push(u)) relax();
        while (pong->pop(&u, 1) == 0) relax();
    }
    stop = true;
    echo.join();
    unpin();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_Throughput, Channel<UpdateChannel::WakeBarrier::automatic>)
    ->Name("Throughput/UpdateChannel")->Arg(1)->Arg(2)->UseRealTime();
// The same with a seq_cst fence per publish (the fallback without membarrier), to show what it costs.
BENCHMARK_TEMPLATE(BM_Throughput, Channel<UpdateChannel::WakeBarrier::fences>)
    ->Name("Throughput/UpdateChannel_fences")->Arg(1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, Ring)->Name("Throughput/SpscRing")->Arg(1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, BoostSpsc)->Name("Throughput/boost_spsc_queue")->Arg(1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Throughput, BoostQueue)->Name("Throughput/boost_queue")->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RoundTrip, Ring)->Name("RoundTrip/SpscRing")->UseRealTime();
BENCHMARK_TEMPLATE(BM_RoundTrip, BoostSpsc)->Name("RoundTrip/boost_spsc_queue")->UseRealTime();
BENCHMARK_TEMPLATE(BM_RoundTrip, BoostQueue)->Name("RoundTrip/boost_queue")->UseRealTime();
