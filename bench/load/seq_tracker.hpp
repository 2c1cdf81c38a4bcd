#pragma once
// Per-connection sequence accounting: every topic's seq rises by one per update at the source, so a
// jump is a gap (updates conflated by the server or lost), a repeat is a duplicate, a step back is a
// reordering. Snapshots reset the baseline, since they carry the latest seq rather than the next.

#include <cstdint>
#include <string_view>
#include <vector>

#include "bench/load/topic_slots.hpp"

namespace tickgate::load {

struct SeqCounts {
    std::uint64_t updates = 0;    // live (non-snapshot) updates
    std::uint64_t snapshots = 0;
    std::uint64_t gaps = 0;       // times seq jumped forward by more than one
    std::uint64_t missing = 0;    // updates skipped over by those jumps
    std::uint64_t duplicates = 0; // seq equal to the last one seen
    std::uint64_t reordered = 0;  // seq below the last one seen

    void add(const SeqCounts& o) noexcept {
        updates += o.updates;
        snapshots += o.snapshots;
        gaps += o.gaps;
        missing += o.missing;
        duplicates += o.duplicates;
        reordered += o.reordered;
    }
};

class SeqTracker {
public:
    /// Accounts one update of `topic`. Allocates only the first time a topic is seen.
    void on_update(std::string_view topic, std::uint64_t seq, bool snapshot);

    const SeqCounts& counts() const noexcept { return counts_; }
    std::size_t topics() const noexcept { return slots_.size(); }
    void clear() noexcept {
        slots_.clear();
        last_.clear();
    }

private:
    TopicSlots slots_;
    std::vector<std::uint64_t> last_;  // by slot: the highest seq seen
    SeqCounts counts_;
};

}  // namespace tickgate::load
