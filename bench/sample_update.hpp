#pragma once
// The realistic BTC-USD update every micro-benchmark encodes or fans out, so their figures compare.

#include <string_view>

#include "protocol/model/market_update.hpp"

namespace tickgate::bench {

inline protocol::MarketUpdate sample_update(std::string_view topic = "ticker.BTC-USD") {
    protocol::MarketUpdate u;
    u.set_topic(topic);
    u.seq = 18446744;
    u.ts_ns = 1764090000123456789;
    u.bid = 6499950;
    u.bid_size = 2500;
    u.ask = 6500000;
    u.ask_size = 11000;
    u.last = 6499975;
    u.last_size = 100;
    u.open_24h = 6300000;
    u.high_24h = 6510000;
    u.low_24h = 6290000;
    u.volume_24h = 12345678;
    return u;
}

}  // namespace tickgate::bench
