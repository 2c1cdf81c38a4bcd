// SeqTracker per update, as tickgate-load sees it: 1,000 connections x 10 of 100 topics, updates in
// feed order. Beside it the string-keyed std::unordered_map it replaced, to keep the comparison.
#include "bench/load/seq_tracker.hpp"

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using tickgate::load::SeqTracker;

class MapTracker {
public:
    void on_update(std::string_view topic, std::uint64_t seq, bool) {
        auto it = last_.find(topic);
        if (it == last_.end()) return void(last_.emplace(std::string(topic), seq));
        gaps_ += seq != it->second + 1;
        it->second = seq;
    }
    std::uint64_t gaps_ = 0;

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> last_;
};

struct Delivery {
    std::uint32_t connection;
    std::uint32_t topic;
};

struct Workload {
    std::vector<std::string> topics;
    std::vector<Delivery> deliveries;  // one feed round: every topic once, to each subscriber

    Workload() {
        for (int i = 0; i < 100; ++i) topics.push_back("ticker.SYM" + std::to_string(1000 + i) + "-USD");
        std::mt19937 rng(1);
        std::vector<std::vector<std::uint32_t>> subscribers(topics.size());
        for (std::uint32_t c = 0; c < 1000; ++c)
            for (int k = 0; k < 10; ++k) subscribers[rng() % topics.size()].push_back(c);
        for (std::uint32_t t = 0; t < topics.size(); ++t)
            for (const auto c : subscribers[t]) deliveries.push_back({c, t});
    }
};

/// range(0): bytes of other memory touched between two updates (0: the trackers stay in cache).
/// In tickgate-load each update comes after a socket read and a TLS record, which evict much of
/// the cache, so what counts there is how many cache lines a lookup touches.
template <class Tracker>
void run(benchmark::State& state) {
    static const Workload w;
    // The text of each update lives in its own message buffer, as in a receive buffer.
    std::vector<std::string> messages(w.topics);
    std::vector<Tracker> trackers(1000);
    std::vector<char> other(static_cast<std::size_t>(state.range(0)) + 1);
    std::uint64_t seq = 1;
    for (auto _ : state) {
        for (const auto& d : w.deliveries) {
            trackers[d.connection].on_update(messages[d.topic], seq, false);
            for (std::size_t i = 0; i + 1 < other.size(); i += 64) other[i]++;
            benchmark::ClobberMemory();
        }
        ++seq;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.deliveries.size()));
}

void BM_SeqTracker(benchmark::State& state) { run<SeqTracker>(state); }
void BM_UnorderedMapReference(benchmark::State& state) { run<MapTracker>(state); }
BENCHMARK(BM_SeqTracker)->Arg(0)->Arg(32 << 10);
BENCHMARK(BM_UnorderedMapReference)->Arg(0)->Arg(32 << 10);

}  // namespace
