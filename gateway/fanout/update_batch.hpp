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
};

struct UpdateBatch {
    std::vector<BatchItem> items;
};

}  // namespace tickgate::gateway
