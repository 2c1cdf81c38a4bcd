#pragma once
// The normalized update every feed produces and the ring carries: one ticker tick of one topic.
// Plain data, exactly two cache lines, so the ring copies it without touching the heap.
// It lives in protocol/ (the bottom layer) because the codecs read and write it: feeds/ and the
// gateway include it from here, and protocol/ never has to include anything above itself.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tickgate::protocol {

/// Longest topic ("<channel>.<symbol>") a feed may publish; longer ones are rejected at the source.
inline constexpr std::size_t kMaxTopicLength = 27;

struct alignas(64) TickerUpdate {
    std::int64_t ts_ns = 0;   // when the feed produced it, ns since the Unix epoch
    std::uint64_t seq = 0;    // per topic, +1 per update at the source

    // Fixed-point mantissas: prices at price_decimals places, sizes at size_decimals places.
    std::int64_t bid = 0, bid_size = 0;
    std::int64_t ask = 0, ask_size = 0;
    std::int64_t last = 0, last_size = 0;
    std::int64_t open_24h = 0, high_24h = 0, low_24h = 0;
    std::int64_t volume_24h = 0;

    std::uint16_t feed = 0;   // index of the producing feed in the gateway's --feed list
    std::uint8_t price_decimals = 2;
    std::uint8_t size_decimals = 4;
    std::uint8_t topic_len = 0;
    char topic_chars[kMaxTopicLength] = {};

    std::string_view topic() const noexcept { return {topic_chars, topic_len}; }

    /// Returns false (and leaves the topic unchanged) when `t` is longer than kMaxTopicLength.
    bool set_topic(std::string_view t) noexcept {
        if (t.size() > kMaxTopicLength) return false;
        std::memcpy(topic_chars, t.data(), t.size());
        topic_len = static_cast<std::uint8_t>(t.size());
        return true;
    }
};

static_assert(sizeof(TickerUpdate) == 128, "two cache lines per update");

}  // namespace tickgate::protocol
