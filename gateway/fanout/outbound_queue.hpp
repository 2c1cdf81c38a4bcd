#pragma once
// One session's send backlog, with the slow-consumer policy:
// - below half of max_bytes, frames are kept in order: shared live frames by reference (queueing
//   costs a pointer, not a copy), per-session control frames in a local buffer; take() gathers them
//   into one contiguous buffer for one socket write (one TLS record where it fits);
// - past half, live updates are conflated: only the newest ticker frame per topic is kept (the
//   client sees a seq gap); a book view's pending deltas are merged per level into one delta, built
//   for this client alone, that chains from the last delta it was sent (a dropped delta would
//   corrupt its book); trades and published messages (chat.lobby) cannot be merged and are
//   dropped (the seq gap tells). All of them go out after the ordered bytes;
// - past max_bytes in all, push reports overflow and the session closes 1008 "slow consumer".
// Control frames (acks, errors, snapshots, pings, status) always keep their order.
// Thread-confined to the session's worker; no locks.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/fanout/frame.hpp"

namespace tickgate::gateway {

class OutboundQueue {
public:
    enum class Push { queued, conflated, dropped, overflow };

    /// `wire` is the session's: merged book deltas are encoded by the queue itself.
    explicit OutboundQueue(std::size_t max_bytes, Wire wire = Wire::v1) : max_bytes_(max_bytes), wire_(wire) {}

    /// A live update. now_ns is the caller's clock (read once per batch, not per push).
    Push push_live(const FramePtr& frame, std::int64_t now_ns);
    /// Ordered bytes of one or more whole frames; false (nothing queued) on overflow.
    bool push_control(std::string_view frame_bytes, std::int64_t now_ns);
    /// A shared frame that keeps its order like a control frame (never conflated): an operator's
    /// announcement, queued by reference for every session. False on overflow (nothing queued).
    bool push_shared(const FramePtr& frame, std::int64_t now_ns);
    /// Appends a frame built in place by `encode(std::string&)`; false on overflow (nothing queued).
    template <typename Build>
    bool push_control_built(Build&& build, std::int64_t now_ns);

    /// The session no longer covers the topic: its conflated frame, if any, must not be sent.
    void forget_topic(std::uint32_t topic_id);

    struct Taken {
        std::size_t messages = 0;
        std::int64_t oldest_update_ts_ns = 0;  // feed ts of the oldest live update taken (0: none)
        std::int64_t queued_since_ns = 0;      // when the oldest byte taken was queued
    };
    /// Moves everything queued into `out` (which must be empty), in send order.
    Taken take(std::string& out);

    /// Drops everything queued (a closing session discards its backlog). The overflow mark stays.
    void clear();
    /// A push overflowed since the queue was made: its session is to be closed as a slow consumer.
    bool overflowed() const noexcept { return overflowed_; }
    /// For a push whose overflow the caller handles itself (a snapshot that does not fit).
    void mark_overflowed() noexcept { overflowed_ = true; }
    bool empty() const noexcept { return pieces_.empty() && conflated_.empty(); }
    /// When the oldest byte still queued was queued (meaningful while not empty).
    std::int64_t queued_since_ns() const noexcept { return queued_since_ns_; }
    std::size_t bytes() const noexcept { return ordered_bytes_ + conflated_bytes_; }
    std::size_t max_bytes() const noexcept { return max_bytes_; }
    /// Heap bytes its buffers hold (what an idle session pays for its queue beyond the object).
    std::size_t buffer_capacity_bytes() const noexcept {
        return control_.capacity() + pieces_.capacity() * sizeof(Piece);
    }
    /// Live updates replaced by a newer one of the same topic since the last call.
    std::uint64_t take_conflated_count() noexcept { return std::exchange(conflated_count_, 0); }
    /// Book deltas merged into another pending one, and trades dropped, since the last call.
    std::uint64_t take_merged_count() noexcept { return std::exchange(merged_count_, 0); }
    std::uint64_t take_dropped_trade_count() noexcept { return std::exchange(dropped_trades_, 0); }
    /// Published messages (rooms) dropped past half, since the last call.
    std::uint64_t take_dropped_published_count() noexcept { return std::exchange(dropped_published_, 0); }

private:
    void note_queued(std::int64_t now_ns) noexcept {
        if (empty()) queued_since_ns_ = now_ns;
    }

    /// A shared frame, or (frame null) the bytes control_[begin, end).
    struct Piece {
        FramePtr frame;
        std::uint32_t begin = 0, end = 0;
    };

    /// The newest frame of a topic, or for a book view the merge of its pending deltas.
    struct Conflated {
        FramePtr frame;
        std::unique_ptr<BookDelta> merged;  // set once a second delta of the view came in
        std::size_t bytes = 0;              // what it will take on the wire (merged: an estimate)
    };
    void merge_book(Conflated& pending, const Frame& newer);

    std::size_t max_bytes_;
    Wire wire_;
    std::vector<Piece> pieces_;
    std::string control_;
    std::size_t ordered_bytes_ = 0;
    std::unordered_map<std::uint32_t, Conflated> conflated_;
    std::size_t conflated_bytes_ = 0;
    std::uint64_t conflated_count_ = 0;
    std::uint64_t merged_count_ = 0;
    std::uint64_t dropped_trades_ = 0;
    std::uint64_t dropped_published_ = 0;
    std::int64_t oldest_update_ts_ns_ = 0;
    std::int64_t queued_since_ns_ = 0;
    bool overflowed_ = false;
};

template <typename Build>
bool OutboundQueue::push_control_built(Build&& build, std::int64_t now_ns) {
    const std::size_t before = control_.size();
    build(control_);
    const std::size_t added = control_.size() - before;
    if (bytes() + added > max_bytes_) {
        control_.resize(before);
        return false;
    }
    note_queued(now_ns);
    pieces_.push_back(Piece{nullptr, static_cast<std::uint32_t>(before), static_cast<std::uint32_t>(control_.size())});
    ordered_bytes_ += added;
    return true;
}

}  // namespace tickgate::gateway
