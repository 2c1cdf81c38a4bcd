// The bus encoding, chosen by these figures: the binary record of protocol/bus_update against the
// v1 JSON object (encode_update / decode_update), encode and decode of one BTC-USD update.
#include <benchmark/benchmark.h>

#include <array>
#include <string>

#include "bench/sample_update.hpp"
#include "protocol/bus_update.hpp"
#include "protocol/messages.hpp"
#include "protocol/update_decoder.hpp"

namespace tp = tickgate::protocol;
using tickgate::protocol::MarketUpdate;

namespace {

void BM_BusEncodeBinary(benchmark::State& state) {
    auto u = tickgate::bench::sample_update();
    std::array<std::byte, tp::kBusUpdateSize> buf{};
    for (auto _ : state) {
        tp::encode_bus_update(u, buf.data());
        benchmark::DoNotOptimize(buf.data());
        benchmark::ClobberMemory();
        ++u.seq;
    }
    state.counters["bytes"] = static_cast<double>(buf.size());
}
BENCHMARK(BM_BusEncodeBinary);

void BM_BusDecodeBinary(benchmark::State& state) {
    std::array<std::byte, tp::kBusUpdateSize> buf{};
    tp::encode_bus_update(tickgate::bench::sample_update(), buf.data());
    const std::string data(reinterpret_cast<const char*>(buf.data()), buf.size());
    MarketUpdate out;
    for (auto _ : state) {
        auto e = tp::decode_bus_update(data, out);
        benchmark::DoNotOptimize(e);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_BusDecodeBinary);

void BM_BusEncodeJson(benchmark::State& state) {
    auto u = tickgate::bench::sample_update();
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        tp::encode_update(u, false, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        ++u.seq;
    }
    state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_BusEncodeJson);

void BM_BusDecodeJson(benchmark::State& state) {
    std::string data;
    tp::encode_update(tickgate::bench::sample_update(), false, data);
    MarketUpdate out;
    std::string error;
    for (auto _ : state) {
        bool ok = tp::decode_update(data, out, error);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_BusDecodeJson);

}  // namespace
