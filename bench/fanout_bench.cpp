// Fan-out of one update to N subscribed sessions without sockets, as a worker does it: find the
// topic, store the latest value, queue the shared frame on every subscriber (copying its bytes into
// the session's pending write buffer) and collect the dirty list. Reported per session.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/sample_update.hpp"
#include "gateway/fanout/frame.hpp"
#include "gateway/fanout/subscription_registry.hpp"
#include "protocol/messages.hpp"

namespace {
using namespace tickgate;

using bench::sample_update;

void BM_FanoutToSessions(benchmark::State& state) {
    const auto sessions = static_cast<std::size_t>(state.range(0));
    gateway::SubscriptionRegistry registry;
    for (std::uint32_t id = 0; id < 100; ++id)
        registry.ensure_topic(id, "ticker.S" + std::to_string(id) + "-USD");
    const std::string topic = "ticker.S42-USD";
    std::vector<std::unique_ptr<gateway::Subscriber>> subs;
    for (std::size_t i = 0; i < sessions; ++i) {
        subs.push_back(std::make_unique<gateway::Subscriber>(1 << 20));
        registry.subscribe(*subs.back(), {std::vector<std::string>{topic}}, 256);
    }
    const auto update = sample_update(topic);
    gateway::FramePtr frame = gateway::make_text_frame([&](std::string& out) { protocol::encode_update(update, false, out); });
    std::string sink;
    std::int64_t iteration = 0;
    for (auto _ : state) {
        const auto id = registry.find(topic);
        registry.deliver(*id, update, frame, iteration);
        registry.flush_dirty([](gateway::Subscriber&) {});
        // What the session's write completion does, every so often, so queues stay in their
        // ordered (non-conflating) half as they do for a client that keeps up.
        if (++iteration % 64 == 0) {
            state.PauseTiming();
            for (auto& s : subs) {
                sink.clear();
                s->queue().take(sink);
            }
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(sessions));
    state.counters["frame_bytes"] = static_cast<double>(frame->bytes().size());
    state.counters["ns_per_session"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * static_cast<double>(sessions),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FanoutToSessions)->Arg(1000)->Arg(10000);

}  // namespace

namespace {

// The other half of a delivery: a session's flush gathering its queued frames into the one buffer
// it writes (what TLS then encrypts as one record). Reported per message.
void BM_GatherQueuedFramesForWrite(benchmark::State& state) {
    const auto queued = static_cast<std::size_t>(state.range(0));
    const auto update = sample_update("ticker.BTC-USD");
    gateway::FramePtr frame = gateway::make_text_frame([&](std::string& out) { protocol::encode_update(update, false, out); });
    gateway::OutboundQueue queue(1 << 20);
    std::string write_buffer;
    for (auto _ : state) {
        for (std::size_t i = 0; i < queued; ++i) queue.push_live(frame, 1);
        write_buffer.clear();
        queue.take(write_buffer);
        benchmark::DoNotOptimize(write_buffer.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(queued));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(queued * frame->bytes().size()));
}
BENCHMARK(BM_GatherQueuedFramesForWrite)->Arg(1)->Arg(16);

}  // namespace
