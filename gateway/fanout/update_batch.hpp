#pragma once
// What the broadcast engine hands each worker: updates in feed order, each already encoded once.

#include <cstdint>
#include <vector>

#include "protocol/model/market_update.hpp"
#include "gateway/fanout/frame.hpp"

namespace tickgate::gateway {

struct BatchItem {
    std::uint32_t topic_id = 0;  // dense ids in order of first appearance; a worker creates unseen ones
    protocol::MarketUpdate update;  // kept by workers as the topic's latest value, for snapshots
    FramePtr frame;              // the live frame every subscriber sends
    std::uint64_t offset = 0;    // the message's number over all topics (0: a topic's announcement)
    std::uint64_t epoch = 0;     // the topic's seq space (protocol/epoch.hpp)
};

struct UpdateBatch {
    std::vector<BatchItem> items;
    std::int64_t handed_out_ns = 0;  // when the engine posted it (LatencyStage::handoff)
};

}  // namespace tickgate::gateway
