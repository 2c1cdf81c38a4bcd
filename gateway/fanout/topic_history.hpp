#pragma once
// The last messages of every topic, as the frames that were sent (issue 17: resume, Socket.IO
// connection state recovery, --history-snapshot). Bounded three ways: entries per topic
// (--history), bytes over all topics (--history-bytes: the oldest entries anywhere go first) and age
// (--history-ms).
//
// The broadcast engine appends on worker 0 before it hands the same frames to the workers, so a
// worker that has delivered a topic up to seq S finds every entry up to S here (unless evicted):
// a session replays (since, S] from the store and the worker's next batches bring what follows,
// with neither a duplicate nor a hole at the seam. Readers are sessions on any worker, rarely (a
// resume), so one mutex serves: the engine's append is uncontended but for them.
//
// A topic's "floor" is the newest seq (and offset) known not to be held: everything after it is.
// It starts at the prev_seq of the topic's first entry (seq - 1; a book view's delta names its
// own), and rises with each eviction. A client that has seen the floor, or anything after it,
// can be brought up to date from here.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "gateway/fanout/frame.hpp"

namespace tickgate::gateway {

struct HistoryLimits {
    std::size_t per_topic = 0;    // 0: the history is off
    std::size_t max_bytes = 64u << 20;
    std::int64_t max_age_ms = 0;  // 0: no age limit
};

struct HistoryEntry {
    std::uint64_t seq = 0;
    std::uint64_t offset = 0;  // the engine's message counter (Socket.IO recovery offsets)
    std::int64_t stored_ns = 0;
    FramePtr frame;            // the v1 frame as it was sent (a Socket.IO replay wraps it again)
};

class TopicHistory {
public:
    explicit TopicHistory(HistoryLimits limits);

    bool enabled() const noexcept { return limits_.per_topic > 0; }
    const HistoryLimits& limits() const noexcept { return limits_; }

    // The broadcast engine (worker 0).
    /// Stores a topic's message. `prev_seq`: the seq of the topic's message before it (seq - 1, a
    /// book view's delta's prev_seq), which becomes the floor of a topic with nothing held yet.
    /// Entries of one topic come in seq order; offsets rise over all topics.
    void append(std::uint32_t topic_id, std::uint64_t epoch, std::uint64_t seq, std::uint64_t prev_seq,
                std::uint64_t offset, FramePtr frame, std::int64_t now_ns);
    /// The topic's source started a new epoch: what is held belongs to the old one. Forgets it, and
    /// nothing before `offset` (the next offset to be handed out) can be recovered any more.
    void reset(std::uint32_t topic_id, std::uint64_t epoch, std::uint64_t offset);
    /// Drops entries older than --history-ms (the engine calls it on its freshness timer too, so an
    /// idle topic's old entries go).
    void expire(std::int64_t now_ns);

    // Any thread.
    enum class Reach {
        covered,      // `out` holds every message after the client's point, in order
        not_reached,  // something after it was evicted, or the history never held it
        stale_epoch,  // the client's epoch is not the topic's current one
        ahead,        // the client claims a seq the topic has not reached (on this gateway)
    };
    /// The entries of `topic_id` with since_seq < seq <= upto_seq (what the asking worker has
    /// delivered), when the history holds all of them and the epoch matches.
    Reach since_seq(std::uint32_t topic_id, std::uint64_t epoch, std::uint64_t since_seq, std::uint64_t upto_seq,
                    std::vector<HistoryEntry>& out) const;
    /// The same by offset (Socket.IO): entries with since_offset < offset <= upto_offset.
    Reach since_offset(std::uint32_t topic_id, std::uint64_t since_offset, std::uint64_t upto_offset,
                       std::vector<HistoryEntry>& out) const;
    /// The last `k` entries with seq <= upto_seq, oldest first (--history-snapshot).
    void last(std::uint32_t topic_id, std::size_t k, std::uint64_t upto_seq, std::vector<HistoryEntry>& out) const;
    /// The topic's current epoch as the history knows it (0: none seen).
    std::uint64_t epoch(std::uint32_t topic_id) const;

    /// Bytes held: frames, and the entries' own memory (tickgate_history_bytes).
    std::size_t bytes() const noexcept;
    std::size_t entries() const noexcept;
    /// Entries dropped for the byte budget, for age, and for the per-topic limit.
    struct Evictions {
        std::uint64_t bytes = 0, age = 0, count = 0;
    };
    Evictions evictions() const noexcept;

private:
    struct Topic {
        // Allocated while the topic holds something: a std::deque costs some 600 bytes even empty,
        // which 100,000 topics a flood has touched once must not keep.
        std::unique_ptr<std::deque<HistoryEntry>> entries;
        std::uint64_t epoch = 0;
        std::uint64_t floor_seq = 0;
        std::uint64_t floor_offset = 0;
        bool started = false;  // floor_seq was set by a first entry (or a reset)
    };
    static std::size_t entry_bytes(const HistoryEntry& e) noexcept;
    void evict_front(Topic& t);
    void enforce_bytes();
    void expire_locked(std::int64_t now_ns);
    /// Drops order records at the front whose entries are gone already.
    void pop_stale_records();
    Topic& topic_for(std::uint32_t topic_id);
    const Topic* find(std::uint32_t topic_id) const noexcept;

    const HistoryLimits limits_;
    mutable std::mutex mutex_;
    std::vector<Topic> topics_;  // by topic id
    // Every entry's (topic, offset) in the order stored: the oldest over all topics is at the front.
    // An entry already evicted by its topic's own limit is skipped when it reaches the front.
    std::deque<std::pair<std::uint32_t, std::uint64_t>> order_;
    std::size_t bytes_ = 0;
    std::size_t entries_ = 0;
    Evictions evictions_;
};

}  // namespace tickgate::gateway
