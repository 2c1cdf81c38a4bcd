// Socket.IO costs on top of protocol v1: framing an update as 42["ticker",{...}] (once per update,
// not per client), beside a bare copy of the same bytes as the floor; and the client request path
// (Engine.IO + Socket.IO decode, mapping to a v1 Request).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/sample_update.hpp"
#include "protocol/model/market_update.hpp"
#include "protocol/engineio.hpp"
#include "protocol/messages.hpp"
#include "protocol/socketio.hpp"
#include "protocol/socketio_events.hpp"

namespace tp = tickgate::protocol;
namespace eio = tickgate::protocol::engineio;
namespace sio = tickgate::protocol::socketio;

namespace {

tickgate::protocol::MarketUpdate btc_update() { return tickgate::bench::sample_update(); }

std::string encoded_update() {
    std::string json;
    tp::encode_update(btc_update(), false, json);
    return json;
}

// The floor: copying the v1 object into a reused buffer.
void BM_CopyV1Object(benchmark::State& state) {
    const std::string json = encoded_update();
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        out.append(json);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_CopyV1Object);

// The same copy framed as a Socket.IO event: the difference to the floor is the framing cost.
void BM_EncodeEventAroundV1Object(benchmark::State& state) {
    const std::string json = encoded_update();
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        sio::encode_event("ticker", json, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodeEventAroundV1Object);

// No copy at all: the update encoded straight between the two halves of the frame. Compare with
// BM_EncodeUpdate in encode_bench (the v1 encoding alone).
void BM_EncodeUpdateInsideEvent(benchmark::State& state) {
    auto u = btc_update();
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        sio::begin_event("ticker", out);
        tp::encode_update(u, false, out);
        sio::end_event(out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        ++u.seq;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodeUpdateInsideEvent);

void BM_EncodeUpdateAlone(benchmark::State& state) {
    auto u = btc_update();
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        tp::encode_update(u, false, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        ++u.seq;
    }
}
BENCHMARK(BM_EncodeUpdateAlone);

// One client request, frame text to v1 Request: 420["subscribe",[...]].
void BM_DecodeSubscribeEvent(benchmark::State& state) {
    const std::string frame = R"(420["subscribe",["ticker.BTC-USD","ticker.ETH-USD","trades.*"]])";
    sio::Packet packet;
    for (auto _ : state) {
        eio::Packet ep;
        benchmark::DoNotOptimize(eio::decode_text_packet(frame, ep));
        benchmark::DoNotOptimize(sio::decode(ep.data, packet));
        auto r = sio::event_to_request(packet);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_DecodeSubscribeEvent);

// A polling POST body of two events.
void BM_DecodePollingPayload(benchmark::State& state) {
    const std::string body = "42[\"subscribe\",[\"ticker.BTC-USD\"]]\x1e" "421[\"list\"]";
    std::vector<eio::Packet> packets;
    std::string storage;
    for (auto _ : state) {
        benchmark::DoNotOptimize(eio::decode_payload(body, {}, packets, storage));
        benchmark::DoNotOptimize(packets.data());
    }
}
BENCHMARK(BM_DecodePollingPayload);

}  // namespace
