// Hot-path costs of protocol/: one encode per update, one parse per client request, one frame read
// per client message.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/sample_update.hpp"
#include "protocol/model/market_update.hpp"
#include "protocol/messages.hpp"
#include "protocol/request.hpp"
#include "protocol/websocket_frame.hpp"

namespace tp = tickgate::protocol;

namespace {

tickgate::protocol::MarketUpdate btc_update() { return tickgate::bench::sample_update(); }

void BM_EncodeUpdate(benchmark::State& state) {
    auto u = btc_update();
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        tp::encode_update(u, false, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        ++u.seq;
        u.last += (u.seq & 1) ? 25 : -25;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodeUpdate);

void BM_ParseSubscribe(benchmark::State& state) {
    const std::string text = R"({"op":"subscribe","id":1,"topics":["ticker.BTC-USD","ticker.ETH-USD","trades.*"]})";
    for (auto _ : state) {
        auto r = tp::parse_request(text);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_ParseSubscribe);

std::string masked_text_frame(const std::string& payload) {
    std::string f;
    f += '\x81';
    f += static_cast<char>(0x80 | payload.size());
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(key, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
    return f;
}

void BM_FrameReaderSmallText(benchmark::State& state) {
    const std::string frame = masked_text_frame(R"({"op":"ping","id":42})");
    tp::FrameReader reader(4096);
    tp::ClientMessage msg;
    for (auto _ : state) {
        std::string_view data = frame;
        const bool ok = reader.next(data, msg);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(msg.payload.data());
    }
}
BENCHMARK(BM_FrameReaderSmallText);

}  // namespace
