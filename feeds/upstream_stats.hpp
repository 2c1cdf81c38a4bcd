#pragma once
// What a network feed (the NATS subscriber) reports about its upstream, read by the gateway's
// /metrics. Counters have one writer, the feed's thread, except `connected` and `reconnects`,
// which the client library's callback thread sets.

#include <atomic>
#include <cstdint>

#include "feeds/runtime/counters.hpp"

namespace tickgate::feeds {

struct UpstreamStats {
    std::atomic<bool> connected{false};
    std::atomic<std::uint64_t> reconnects{0};
    // Connection losses (set with `connected` on the callback thread): the broadcast engine sees
    // a drop even when the reconnect came before it looked.
    std::atomic<std::uint64_t> disconnects{0};
    runtime::OwnedCounter messages;          // received, live or loaded from the store
    runtime::OwnedCounter decode_errors;     // not a valid bus record or subject: skipped
    runtime::OwnedCounter unknown_records;   // v2 records of a type this gateway does not know: skipped
    runtime::OwnedCounter duplicates;        // seq not above the topic's last: skipped (replays, reloads)
    runtime::OwnedCounter topic_limit_drops; // a topic beyond --max-topics: skipped
    runtime::OwnedCounter filtered;          // grouped records (live batches) outside --nats-subjects: skipped
    // 1 while the feed reads the publisher's batched live subject rather than the per-topic ones.
    std::atomic<bool> batched{false};
    // Books (bus_books.hpp): seq gaps that made a ready book wait for a keyframe, keyframes or
    // resets that gave a book its base, and the books waiting right now.
    runtime::OwnedCounter book_gaps;
    runtime::OwnedCounter book_bases;
    std::atomic<std::uint64_t> books_waiting{0};
    // A reader on the ring consumer's thread that found the ring too full and let the engine drain.
    runtime::OwnedCounter ring_waits;
    runtime::OwnedCounter loaded;            // latest values taken from JetStream at (re)connect
    // The MessageBus side (issue 16), all written on the feed's loop thread: client messages and
    // other gateways' announcements handed to their sinks, and forwarded publishes that ended in
    // an error (refused, timed out, NATS down, no publisher).
    runtime::OwnedCounter client_messages;
    runtime::OwnedCounter announcements;
    runtime::OwnedCounter publish_errors;
    // Publisher ts to ring insert, live messages only; the fan-out histogram's buckets, so the two
    // compare bucket for bucket.
    runtime::LatencyHistogram latency;
};

}  // namespace tickgate::feeds
