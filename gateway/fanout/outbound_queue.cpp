#include "gateway/fanout/outbound_queue.hpp"

#include "gateway/fanout/frame_encoder.hpp"

namespace tickgate::gateway {
namespace {

// What an emptied queue keeps between writes: a few pieces, and the control bytes of an ack or a
// pong (a snapshot burst is given back).
constexpr std::size_t kKeepPieces = 8;
constexpr std::size_t kKeepControlBytes = 256;

// A merged delta is encoded only when it is sent; until then its size is estimated from its levels
// (a level is ["price","size"], about 25 bytes; the rest of the object about 150 plus the topic twice).
std::size_t estimated_bytes(const BookDelta& d) noexcept {
    return 160 + 2 * std::size_t{d.topic_len} + 28 * (d.bids.size() + d.asks.size());
}

}  // namespace

OutboundQueue::Push OutboundQueue::push_live(const FramePtr& frame, std::int64_t now_ns) {
    const std::size_t size = frame->bytes().size();
    note_queued(now_ns);
    // Once one topic is conflated, every live update goes through the map until the next write,
    // so a topic's frames never overtake each other.
    if (conflated_.empty() && ordered_bytes_ + size <= max_bytes_ / 2) {
        pieces_.push_back(Piece{frame, 0, 0});
        ordered_bytes_ += size;
        if (oldest_update_ts_ns_ == 0 || frame->ts_ns < oldest_update_ts_ns_) oldest_update_ts_ns_ = frame->ts_ns;
        return Push::queued;
    }
    // Each trade and each published message is its own event: no later one stands for it.
    if (frame->kind == protocol::UpdateKind::trade) {
        ++dropped_trades_;
        return Push::dropped;
    }
    if (frame->kind == protocol::UpdateKind::published) {
        ++dropped_published_;
        return Push::dropped;
    }
    auto [it, inserted] = conflated_.try_emplace(frame->topic_id);
    Conflated& pending = it->second;
    if (!inserted) conflated_bytes_ -= pending.bytes;
    if (!inserted && frame->book && pending.frame->book) {
        merge_book(pending, *frame);
        ++merged_count_;
    } else {
        if (!inserted) ++conflated_count_;
        pending.merged.reset();
        pending.bytes = size;
    }
    pending.frame = frame;
    conflated_bytes_ += pending.bytes;
    if (bytes() > max_bytes_) {
        overflowed_ = true;
        return Push::overflow;
    }
    return inserted ? Push::queued : Push::conflated;
}

void OutboundQueue::merge_book(Conflated& pending, const Frame& newer) {
    // The first delta keeps its prev_seq (what the client holds); the newest gives seq, checksum, ts.
    if (!pending.merged) pending.merged = std::make_unique<BookDelta>(*pending.frame->book);
    BookDelta& m = *pending.merged;
    const BookDelta& n = *newer.book;
    protocol::merge_levels(protocol::BookSide::bid, m.bids, n.bids);
    protocol::merge_levels(protocol::BookSide::ask, m.asks, n.asks);
    m.seq = n.seq;
    m.ts_ns = n.ts_ns;
    m.checksum = n.checksum;
    pending.bytes = estimated_bytes(m);
}

bool OutboundQueue::push_control(std::string_view frame_bytes, std::int64_t now_ns) {
    return push_control_built([&](std::string& out) { out.append(frame_bytes); }, now_ns);
}

bool OutboundQueue::push_shared(const FramePtr& frame, std::int64_t now_ns) {
    const std::size_t size = frame->bytes().size();
    if (bytes() + size > max_bytes_) return false;
    note_queued(now_ns);
    pieces_.push_back(Piece{frame, 0, 0});
    ordered_bytes_ += size;
    return true;
}

void OutboundQueue::forget_topic(std::uint32_t topic_id) {
    if (conflated_.empty()) return;
    if (auto it = conflated_.find(topic_id); it != conflated_.end()) {
        conflated_bytes_ -= it->second.bytes;
        conflated_.erase(it);
    }
}

OutboundQueue::Taken OutboundQueue::take(std::string& out) {
    Taken taken{pieces_.size() + conflated_.size(), oldest_update_ts_ns_, queued_since_ns_};
    out.reserve(out.size() + bytes());
    for (const Piece& p : pieces_) {
        if (p.frame)
            out.append(p.frame->bytes());
        else
            out.append(control_, p.begin, p.end - p.begin);
    }
    for (const auto& [topic, pending] : conflated_) {
        if (pending.merged)
            frames::book_delta(*pending.merged, wire_, out);
        else
            out.append(pending.frame->bytes());
        if (taken.oldest_update_ts_ns == 0 || pending.frame->ts_ns < taken.oldest_update_ts_ns)
            taken.oldest_update_ts_ns = pending.frame->ts_ns;
    }
    clear();
    return taken;
}

void OutboundQueue::clear() {
    // What a burst grew them to (the snapshots of a subscribe, a backlog) is given back: an idle
    // session keeps what an ordinary write needs, not ~4 KiB of its first write's control bytes.
    if (pieces_.capacity() > kKeepPieces)
        std::vector<Piece>().swap(pieces_);
    else
        pieces_.clear();
    if (control_.capacity() > kKeepControlBytes)
        std::string().swap(control_);
    else
        control_.clear();
    ordered_bytes_ = 0;
    conflated_.clear();
    conflated_bytes_ = 0;
    oldest_update_ts_ns_ = 0;
    queued_since_ns_ = 0;
}

}  // namespace tickgate::gateway
