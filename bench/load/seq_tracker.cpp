#include "bench/load/seq_tracker.hpp"

namespace tickgate::load {

void SeqTracker::on_update(std::string_view topic, std::uint64_t seq, bool snapshot) {
    const std::size_t known = slots_.size();
    const std::uint32_t slot = slots_.find_or_add(topic);
    if (snapshot) ++counts_.snapshots;
    else ++counts_.updates;
    if (slot == known) {
        // First sight: a snapshot, or (from a server that sends none) the first update, sets the baseline.
        last_.push_back(seq);
        return;
    }
    std::uint64_t& last = last_[slot];
    if (snapshot) {
        last = seq;
    } else if (seq == last + 1) {
        last = seq;
    } else if (seq > last) {
        ++counts_.gaps;
        counts_.missing += seq - last - 1;
        last = seq;
    } else if (seq == last) {
        ++counts_.duplicates;
    } else {
        ++counts_.reordered;
    }
}

}  // namespace tickgate::load
