#include "gateway/fanout/outbound_queue.hpp"

namespace tickgate::gateway {

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
    auto [it, inserted] = conflated_.try_emplace(frame->topic_id, frame);
    if (!inserted) {
        conflated_bytes_ -= it->second->bytes().size();
        it->second = frame;
        ++conflated_count_;
    }
    conflated_bytes_ += size;
    if (bytes() > max_bytes_) {
        overflowed_ = true;
        return Push::overflow;
    }
    return inserted ? Push::queued : Push::conflated;
}

bool OutboundQueue::push_control(std::string_view frame_bytes, std::int64_t now_ns) {
    return push_control_built([&](std::string& out) { out.append(frame_bytes); }, now_ns);
}

void OutboundQueue::forget_topic(std::uint32_t topic_id) {
    if (conflated_.empty()) return;
    if (auto it = conflated_.find(topic_id); it != conflated_.end()) {
        conflated_bytes_ -= it->second->bytes().size();
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
    for (const auto& [topic, frame] : conflated_) {
        out.append(frame->bytes());
        if (taken.oldest_update_ts_ns == 0 || frame->ts_ns < taken.oldest_update_ts_ns)
            taken.oldest_update_ts_ns = frame->ts_ns;
    }
    clear();
    return taken;
}

void OutboundQueue::clear() {
    pieces_.clear();
    control_.clear();
    ordered_bytes_ = 0;
    conflated_.clear();
    conflated_bytes_ = 0;
    oldest_update_ts_ns_ = 0;
    queued_since_ns_ = 0;
}

}  // namespace tickgate::gateway
