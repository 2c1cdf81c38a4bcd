#include "bench/load/seq_tracker.hpp"

namespace tickgate::load {

void SeqTracker::on_update(std::string_view topic, std::uint64_t seq, bool snapshot) {
    auto it = last_.find(topic);
    if (snapshot) {
        ++counts_.snapshots;
        if (it == last_.end()) last_.emplace(std::string(topic), seq);
        else it->second = seq;
        return;
    }
    ++counts_.updates;
    if (it == last_.end()) {
        // The first update of a topic without a snapshot (a server that sends none) sets the baseline.
        last_.emplace(std::string(topic), seq);
        return;
    }
    std::uint64_t& last = it->second;
    if (seq == last + 1) {
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
