// What throttled subscriptions (protocol/README.md, "Throttled subscriptions") cost a worker,
// without sockets: the registry of one worker, its subscribers' queues, the worker's tick.
//
// - BM_RawTickerUpdate/C: one ticker update to C raw subscribers (the fan-out of today), for scale.
// - BM_ThrottledTickerUpdate/C/I: the same update when the C subscribers are throttled, spread
//   over I intervals: it only becomes the newest of I streams, whatever C is.
// - BM_ThrottledBookUpdate/C: a 4-level book delta merged into one throttled stream's pending
//   delta, whatever the C subscribers of the stream.
// - BM_ThrottleTick/S/C: a tick of S streams (S ticker topics, each updated since the last tick)
//   to C subscribers of them all (ticker.*@1000ms): S x C deliveries. ns_per_delivery shows the
//   per-client part is the queueing any fan-out does; ns_per_stream the rest.
// - BM_ThrottledBookTick/C: a tick of one book stream to C subscribers: one merged delta encoded,
//   C deliveries.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/sample_update.hpp"
#include "gateway/fanout/frame.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/subscription_registry.hpp"
#include "protocol/messages.hpp"

namespace {
using namespace tickgate;
using bench::sample_update;

constexpr const char* kIntervals[] = {"@100ms", "@250ms", "@500ms", "@1000ms", "@5000ms"};

struct Worker {
    gateway::SubscriptionRegistry registry;
    std::vector<std::unique_ptr<gateway::Subscriber>> subs;
    std::string sink;

    explicit Worker(std::size_t topics) {
        for (std::uint32_t id = 0; id < topics; ++id) registry.ensure_topic(id, "ticker.S" + std::to_string(id) + "-USD");
    }
    void subscribe(std::size_t clients, const std::vector<std::string>& entries) {
        for (std::size_t i = 0; i < clients; ++i) {
            subs.push_back(std::make_unique<gateway::Subscriber>(1 << 22));
            registry.subscribe(*subs.back(), entries, 256);
        }
    }
    void drain() {
        for (auto& s : subs) {
            sink.clear();
            s->queue().take(sink);
        }
    }
};

gateway::FramePtr ticker_frame(const protocol::MarketUpdate& u) {
    return gateway::make_text_frame([&](std::string& out) { protocol::encode_update(u, false, out); });
}

void BM_RawTickerUpdate(benchmark::State& state) {
    const auto clients = static_cast<std::size_t>(state.range(0));
    Worker w(100);
    w.subscribe(clients, {"ticker.S42-USD"});
    auto u = sample_update("ticker.S42-USD");
    const auto frame = ticker_frame(u);
    std::int64_t n = 0;
    for (auto _ : state) {
        u.seq = static_cast<std::uint64_t>(++n);
        w.registry.deliver(42, u, frame, n);
        w.registry.flush_dirty([](gateway::Subscriber&) {});
        if (n % 64 == 0) {
            state.PauseTiming();
            w.drain();
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawTickerUpdate)->Arg(10)->Arg(100)->Arg(1000);

void BM_ThrottledTickerUpdate(benchmark::State& state) {
    const auto clients = static_cast<std::size_t>(state.range(0));
    const auto intervals = static_cast<std::size_t>(state.range(1));
    Worker w(100);
    for (std::size_t i = 0; i < clients; ++i)
        w.subscribe(1, {std::string("ticker.*") + kIntervals[i % intervals]});
    auto u = sample_update("ticker.S42-USD");
    const auto frame = ticker_frame(u);
    std::int64_t n = 0;
    for (auto _ : state) {
        u.seq = static_cast<std::uint64_t>(++n);
        w.registry.deliver(42, u, frame, n);
        w.registry.flush_dirty([](gateway::Subscriber&) {});
    }
    benchmark::DoNotOptimize(w.registry.throttled_streams());
    state.SetItemsProcessed(state.iterations());
    state.counters["streams"] = static_cast<double>(w.registry.throttled_streams());
}
BENCHMARK(BM_ThrottledTickerUpdate)->Args({10, 1})->Args({1000, 1})->Args({10, 5})->Args({1000, 5});

std::shared_ptr<gateway::BookDelta> book_delta(std::uint64_t seq) {
    auto d = std::make_shared<gateway::BookDelta>();
    d->seq = seq;
    d->prev_seq = seq - 1;
    d->ts_ns = static_cast<std::int64_t>(seq);
    d->checksum = static_cast<std::uint32_t>(seq);
    d->set_topic("book.BTC-USD");
    // Four levels near the top, moving with the seq, as a busy book's deltas do.
    const auto at = static_cast<std::int64_t>(seq % 50);
    d->bids = {{6499900 - 100 * at, 1000 + static_cast<std::int64_t>(seq % 7)}, {6499800 - 100 * at, 0}};
    d->asks = {{6500100 + 100 * at, 2000}, {6500300 + 100 * at, static_cast<std::int64_t>(seq % 3)}};
    return d;
}

struct BookWorker : Worker {
    BookWorker() : Worker(0) {
        protocol::MarketUpdate first;
        first.kind = protocol::UpdateKind::book;
        first.set_topic("book.BTC-USD");
        registry.ensure_topic(0, first);
        publish(1);
    }
    void publish(std::uint64_t seq) {
        protocol::MarketUpdate u;
        u.set_topic("book.BTC-USD");
        u.kind = protocol::UpdateKind::book;
        u.seq = seq;
        registry.deliver(0, u, gateway::frames::book_delta(book_delta(seq), 0), static_cast<std::int64_t>(seq));
        registry.flush_dirty([](gateway::Subscriber&) {});
    }
};

void BM_ThrottledBookUpdate(benchmark::State& state) {
    const auto clients = static_cast<std::size_t>(state.range(0));
    BookWorker w;
    w.subscribe(clients, {"book.BTC-USD@1000ms"});
    const std::uint8_t rate = gateway::rate_of_interval(1000);
    std::uint64_t seq = 1;
    for (auto _ : state) {
        w.publish(++seq);
        // A tick every 100 updates, off the clock, so the pending delta stays the size it has
        // between the ticks of a book changing 100 times per interval.
        if (seq % 100 == 0) {
            state.PauseTiming();
            w.registry.deliver_throttled(rate, 0);
            w.drain();
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThrottledBookUpdate)->Arg(10)->Arg(1000);

void BM_ThrottleTick(benchmark::State& state) {
    const auto streams = static_cast<std::size_t>(state.range(0));
    const auto clients = static_cast<std::size_t>(state.range(1));
    Worker w(streams);
    w.subscribe(clients, {"ticker.*@1000ms"});
    const std::uint8_t rate = gateway::rate_of_interval(1000);
    std::vector<protocol::MarketUpdate> updates;
    std::vector<gateway::FramePtr> frames;
    for (std::uint32_t id = 0; id < streams; ++id) {
        updates.push_back(sample_update(w.registry.topic(id).name));
        frames.push_back(ticker_frame(updates.back()));
    }
    std::uint64_t seq = 0;
    for (auto _ : state) {
        state.PauseTiming();
        ++seq;
        for (std::uint32_t id = 0; id < streams; ++id) {
            updates[id].seq = seq;
            w.registry.deliver(id, updates[id], frames[id], 0);
        }
        w.registry.flush_dirty([](gateway::Subscriber&) {});
        state.ResumeTiming();
        benchmark::DoNotOptimize(w.registry.deliver_throttled(rate, 0));
        w.registry.flush_dirty([](gateway::Subscriber&) {});
        state.PauseTiming();
        w.drain();
        state.ResumeTiming();
    }
    const double deliveries = static_cast<double>(streams * clients);
    state.counters["ns_per_delivery"] = benchmark::Counter(static_cast<double>(state.iterations()) * deliveries,
                                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["encodes_per_tick"] =
        static_cast<double>(w.registry.throttled_encodes()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ThrottleTick)->Args({20, 10})->Args({20, 100})->Args({20, 1000})->Args({100, 100})->Args({100, 1000});

void BM_ThrottledBookTick(benchmark::State& state) {
    const auto clients = static_cast<std::size_t>(state.range(0));
    BookWorker w;
    w.subscribe(clients, {"book.BTC-USD@1000ms"});
    const std::uint8_t rate = gateway::rate_of_interval(1000);
    std::uint64_t seq = 1;
    for (auto _ : state) {
        state.PauseTiming();
        for (int i = 0; i < 100; ++i) w.publish(++seq);
        state.ResumeTiming();
        benchmark::DoNotOptimize(w.registry.deliver_throttled(rate, 0));
        w.registry.flush_dirty([](gateway::Subscriber&) {});
        state.PauseTiming();
        w.drain();
        state.ResumeTiming();
    }
    state.counters["ns_per_delivery"] = benchmark::Counter(static_cast<double>(state.iterations() * clients),
                                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["encodes_per_tick"] =
        static_cast<double>(w.registry.throttled_encodes()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ThrottledBookTick)->Arg(1)->Arg(10)->Arg(1000);

}  // namespace
