#pragma once
// The newest seq the broadcast engine has handed to the workers, per ticker topic id. A worker
// that has fallen behind (more than --behind-skip-ms of lag, 250 by default) checks it before
// fanning out a ticker: when a newer one of the same topic is already queued for it, the older one
// is skipped for live delivery (clients see a seq gap, as with per-client conflation), so an
// overloaded gateway stays current instead of building up lag.
// Written by the broadcast engine only (on worker 0); read by every worker.

#include <atomic>
#include <cstdint>
#include <memory>

namespace tickgate::gateway {

class NewestSeqTable {
public:
    explicit NewestSeqTable(std::size_t topics) : size_(topics), seqs_(new std::atomic<std::uint64_t>[topics]) {
        for (std::size_t i = 0; i < topics; ++i) seqs_[i].store(0, std::memory_order_relaxed);
    }
    void publish(std::uint32_t topic_id, std::uint64_t seq) noexcept {
        if (topic_id < size_) seqs_[topic_id].store(seq, std::memory_order_relaxed);
    }
    /// True when an update of the topic newer than `seq` has been handed out already.
    bool superseded(std::uint32_t topic_id, std::uint64_t seq) const noexcept {
        return topic_id < size_ && seqs_[topic_id].load(std::memory_order_relaxed) > seq;
    }

private:
    std::size_t size_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> seqs_;
};

}  // namespace tickgate::gateway
