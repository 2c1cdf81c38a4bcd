#pragma once
// An encoded server message: a complete WebSocket frame (header + JSON payload), built once and
// shared read-only by every session that sends it.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/model/market_update.hpp"
#include "protocol/model/order_book.hpp"

namespace tickgate::gateway {

/// The wire protocol of a session: v1 JSON frames, or Socket.IO v5 over Engine.IO v4.
enum class Wire : std::uint8_t { v1, socketio };

/// A book view's delta as values: what a worker applies to its copy of the view (for snapshots)
/// and what a slow client's queue merges pending deltas with. Shared read-only, like its frame.
struct BookDelta {
    std::uint64_t seq = 0;
    std::uint64_t prev_seq = 0;
    std::int64_t ts_ns = 0;
    std::uint32_t checksum = 0;
    std::uint8_t price_decimals = 2;
    std::uint8_t size_decimals = 4;
    std::uint8_t topic_len = 0;
    char topic_chars[protocol::kMaxTopicLength] = {};
    std::vector<protocol::PriceLevel> bids, asks;  // best first; size 0 removes

    std::string_view topic() const noexcept { return {topic_chars, topic_len}; }
    void set_topic(std::string_view t) noexcept {
        topic_len = static_cast<std::uint8_t>(std::min(t.size(), protocol::kMaxTopicLength));
        std::memcpy(topic_chars, t.data(), topic_len);
    }
};

struct Frame {
    std::string storage;     // header written right-aligned before the payload; see make_text_frame
    std::uint32_t offset = 0;
    std::uint32_t topic_id = 0;
    std::int64_t ts_ns = 0;  // the update's feed timestamp (0 for non-updates)
    protocol::UpdateKind kind = protocol::UpdateKind::ticker;  // of a live update: how a slow queue treats it
    std::shared_ptr<const BookDelta> book;  // a book view's delta: its values

    std::string_view bytes() const noexcept { return std::string_view(storage).substr(offset); }
};

using FramePtr = std::shared_ptr<const Frame>;

/// Encodes into a fresh buffer with room for the header in front, so payload and header are one
/// contiguous block without a copy. `encode` appends the JSON payload to the string it is given.
template <typename Encode>
std::shared_ptr<Frame> make_text_frame(Encode&& encode);

}  // namespace tickgate::gateway

#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway {

template <typename Encode>
std::shared_ptr<Frame> make_text_frame(Encode&& encode) {
    auto frame = std::make_shared<Frame>();
    auto& s = frame->storage;
    s.reserve(384);
    s.assign(protocol::kMaxFrameHeader, '\0');
    encode(s);
    const std::size_t payload = s.size() - protocol::kMaxFrameHeader;
    std::uint8_t header[protocol::kMaxFrameHeader];
    const std::size_t header_size = protocol::write_frame_header(header, protocol::Opcode::text, payload);
    frame->offset = static_cast<std::uint32_t>(protocol::kMaxFrameHeader - header_size);
    s.replace(frame->offset, header_size, reinterpret_cast<const char*>(header), header_size);
    return frame;
}

/// The same for a frame used once (acks, errors, snapshots): appended straight to `out`.
template <typename Encode>
void append_text_frame(std::string& out, Encode&& encode) {
    const std::size_t start = out.size();
    out.append(protocol::kMaxFrameHeader, '\0');
    encode(out);
    const std::size_t payload = out.size() - start - protocol::kMaxFrameHeader;
    std::uint8_t header[protocol::kMaxFrameHeader];
    const std::size_t header_size = protocol::write_frame_header(header, protocol::Opcode::text, payload);
    // Close the gap left by a header shorter than the reserved room.
    out.replace(start, protocol::kMaxFrameHeader, reinterpret_cast<const char*>(header), header_size);
}

}  // namespace tickgate::gateway
