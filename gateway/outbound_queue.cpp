#include "gateway/outbound_queue.hpp"

namespace tickgate::gateway {

OutboundQueue::Push OutboundQueue::push_live(const Frame& frame, const FramePtr& owner, std::int64_t now_ns) {
    const auto bytes_in = frame.bytes();
    // Once one topic is conflated, every live update goes through the map until the next write,
    // so a topic's frames never overtake each other.
    if (conflated_.empty() && ordered_.size() + bytes_in.size() <= max_bytes_ / 2) {
        note_queued(now_ns);
        ordered_.append(bytes_in);
        ++ordered_messages_;
        if (oldest_update_ts_ns_ == 0 || frame.ts_ns < oldest_update_ts_ns_) oldest_update_ts_ns_ = frame.ts_ns;
        return Push::queued;
    }
    note_queued(now_ns);
    auto [it, inserted] = conflated_.try_emplace(frame.topic_id, owner);
    if (!inserted) {
        conflated_bytes_ -= it->second->bytes().size();
        it->second = owner;
        ++conflated_count_;
    }
    conflated_bytes_ += bytes_in.size();
    if (bytes() > max_bytes_) return Push::overflow;
    return inserted ? Push::queued : Push::conflated;
}

bool OutboundQueue::push_control(std::string_view frame_bytes, std::int64_t now_ns) {
    if (bytes() + frame_bytes.size() > max_bytes_) return false;
    note_queued(now_ns);
    ordered_.append(frame_bytes);
    ++ordered_messages_;
    return true;
}

void OutboundQueue::forget_topic(std::uint32_t topic_id) {
    if (conflated_.empty()) return;
    if (auto it = conflated_.find(topic_id); it != conflated_.end()) {
        conflated_bytes_ -= it->second->bytes().size();
        conflated_.erase(it);
    }
}

OutboundQueue::Taken OutboundQueue::take(std::string& out) {
    Taken taken{ordered_messages_ + conflated_.size(), oldest_update_ts_ns_, queued_since_ns_};
    out.swap(ordered_);
    for (const auto& [topic, frame] : conflated_) {
        out.append(frame->bytes());
        if (taken.oldest_update_ts_ns == 0 || frame->ts_ns < taken.oldest_update_ts_ns)
            taken.oldest_update_ts_ns = frame->ts_ns;
    }
    clear();
    return taken;
}

void OutboundQueue::clear() {
    ordered_.clear();
    ordered_messages_ = 0;
    conflated_.clear();
    conflated_bytes_ = 0;
    oldest_update_ts_ns_ = 0;
    queued_since_ns_ = 0;
}

}  // namespace tickgate::gateway
