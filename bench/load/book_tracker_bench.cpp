// What tickgate-load spends checking one book message (scan, apply, checksum), beside a ticker
// update's scan and seq bookkeeping, and zlib's crc32 alone. The stream is made here: 100 books of
// 50 levels a side, each change setting, adding or removing 1-3 levels near the top as the
// simulator does, written in the gateway's format with checksums computed from a std::map model
// (not by the code under test, so a wrong tracker would count failures: the bench checks none).
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/load/book_tracker.hpp"
#include "bench/load/seq_tracker.hpp"
#include "bench/load/update_scan.hpp"

namespace {

using namespace tickgate::load;

std::string price_text(long ticks) {
    char b[32];
    std::snprintf(b, sizeof b, "%ld.%02ld", ticks / 100, ticks % 100);
    return b;
}
std::string size_text(long units) {
    char b[32];
    std::snprintf(b, sizeof b, "%ld.%04ld", units / 10000, units % 10000);
    return b;
}

struct Model {
    std::map<long, long, std::greater<>> bids;
    std::map<long, long> asks;
    std::uint64_t seq = 0;

    template <class Side>
    static void put(std::string& s, const Side& side) {
        int n = 0;
        for (const auto& [p, q] : side) {
            if (n == 10) break;
            if (n++) s += ',';
            s += price_text(p) + ":" + size_text(q);
        }
    }
    std::uint32_t checksum() const {
        std::string s;
        put(s, asks);
        s += '|';
        put(s, bids);
        return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
    }
};

template <class Side>
std::string levels_json(const Side& side) {
    std::string s = "[";
    for (const auto& [p, q] : side) {
        if (s.size() > 1) s += ',';
        s += "[\"" + price_text(p) + "\",\"" + size_text(q) + "\"]";
    }
    return s + "]";
}

struct Stream {
    std::vector<std::string> topics;
    std::vector<std::string> snapshots;  // one per topic
    std::vector<std::string> deltas;     // in feed order
    std::vector<std::uint32_t> delta_topic;

    Stream() {
        std::mt19937 rng(7);
        std::vector<Model> books(100);
        for (int t = 0; t < 100; ++t) {
            topics.push_back("book50.SYM" + std::to_string(100 + t) + "-USD");
            Model& m = books[t];
            for (int i = 0; i < 50; ++i) {
                m.bids[6'500'000 - 2 * i] = 1000 + static_cast<long>(rng() % 50000);
                m.asks[6'500'002 + 2 * i] = 1000 + static_cast<long>(rng() % 50000);
            }
            m.seq = 1000;
            snapshots.push_back(R"({"type":"book50","topic":")" + topics[t] + R"(","seq":1000,"ts":1764090000123456789,)"
                                R"("snapshot":true,"bids":)" + levels_json(m.bids) + R"(,"asks":)" + levels_json(m.asks) +
                                R"(,"checksum":)" + std::to_string(m.checksum()) + "}");
        }
        for (int k = 0; k < 20000; ++k) {
            const auto t = static_cast<std::uint32_t>(rng() % 100);
            Model& m = books[t];
            std::map<long, long, std::greater<>> db;
            std::map<long, long> da;
            const int changes = 1 + static_cast<int>(rng() % 3);
            for (int c = 0; c < changes; ++c) {
                const bool bid = rng() % 2;
                const long offset = 2 * static_cast<long>(rng() % 12);  // near the top
                const long price = bid ? m.bids.begin()->first - offset : m.asks.begin()->first + offset;
                const long size = rng() % 4 == 0 ? 0 : 1000 + static_cast<long>(rng() % 50000);
                if (bid) {
                    if (size) m.bids[price] = size; else m.bids.erase(price);
                    db[price] = size;
                } else {
                    if (size) m.asks[price] = size; else m.asks.erase(price);
                    da[price] = size;
                }
            }
            const std::uint64_t prev = m.seq;
            m.seq += 1 + rng() % 2;
            deltas.push_back(R"({"type":"book50","topic":")" + topics[t] + R"(","seq":)" + std::to_string(m.seq) +
                             R"(,"prev_seq":)" + std::to_string(prev) + R"(,"ts":1764090000223456789,"snapshot":false,"bids":)" +
                             levels_json(db) + R"(,"asks":)" + levels_json(da) + R"(,"checksum":)" +
                             std::to_string(m.checksum()) + "}");
            delta_topic.push_back(t);
        }
    }
};

void BM_BookMessage(benchmark::State& state) {
    static const Stream s;
    BookTracker tracker;
    for (const auto& snap : s.snapshots) tracker.on_message(snap, scan_message(snap), Channel::book50);
    // The stream's seqs only go forward once: replaying it again would break every chain. Feed a
    // fresh tracker each pass (snapshots outside the timing).
    std::size_t at = 0;
    for (auto _ : state) {
        if (at == s.deltas.size()) {
            state.PauseTiming();
            tracker = BookTracker();
            for (const auto& snap : s.snapshots) tracker.on_message(snap, scan_message(snap), Channel::book50);
            at = 0;
            state.ResumeTiming();
        }
        const std::string& d = s.deltas[at++];
        tracker.on_message(d, scan_message(d), Channel::book50);
    }
    const auto& c = tracker.counts();
    if (c.checksum_failures || c.chain_breaks || c.malformed) state.SkipWithError("the tracker disagrees with the model");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["bytes_per_msg"] = static_cast<double>(s.deltas[0].size());
}

void BM_TickerUpdate(benchmark::State& state) {
    std::vector<std::string> messages;
    for (int t = 0; t < 100; ++t)
        messages.push_back(R"({"type":"ticker","topic":"ticker.SYM)" + std::to_string(100 + t) +
                           R"(-USD","seq":1234,"ts":1764090000123456789,"snapshot":false,"bid":"64999.50","bid_size":"0.2500",)"
                           R"("ask":"65000.00","ask_size":"1.1000","last":"64999.75","last_size":"0.0100","volume_24h":"1234.5678"})");
    SeqTracker tracker;
    std::uint64_t seq = 1;
    std::size_t i = 0;
    for (auto _ : state) {
        const auto m = scan_message(messages[i]);
        tracker.on_update(m.topic, seq, false);
        if (++i == messages.size()) i = 0, ++seq;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_Crc32Of10And10Levels(benchmark::State& state) {
    static const Stream s;
    BookTracker tracker;
    tracker.on_message(s.snapshots[0], scan_message(s.snapshots[0]), Channel::book50);
    const ClientBook& book = *tracker.book(s.topics[0]);
    char text[ClientBook::kChecksumTextMax];
    const std::string_view t(text, book.checksum_text(text));
    for (auto _ : state) benchmark::DoNotOptimize(crc32_of(t));
    state.counters["bytes"] = static_cast<double>(t.size());
}

BENCHMARK(BM_BookMessage);
BENCHMARK(BM_TickerUpdate);
BENCHMARK(BM_Crc32Of10And10Levels);

}  // namespace
