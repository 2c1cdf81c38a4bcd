#pragma once
// The gateway's hot-path counters, per worker. Each block is written by its worker thread only
// (runtime/counters.hpp's single-writer types), so counting costs no locked instruction and no
// shared cache line; the metrics scrape reads them from another thread and folds them into the
// Prometheus registry.

#include <array>
#include <cstddef>
#include <cstdint>

#include "feeds/runtime/counters.hpp"
#include "protocol/errors.hpp"

namespace tickgate::gateway {

using protocol::kErrorCodeCount;

/// The parts of a message's way through the gateway, timed separately so that a tail can be found
/// where it is made (tickgate_latency_stage_seconds{stage}). Together they are the fan-out latency
/// of the oldest message of a write.
enum class LatencyStage : std::uint8_t {
    ring,     // feed ts -> the engine takes the update from the ring (worker 0, the engine's thread)
    handoff,  // the engine hands a batch out -> the worker starts on it
    queue,    // the worker queues the batch's bytes for a session -> that session's write starts
    write,    // the write starts -> every byte of it is with the kernel
    count_,
};
inline constexpr std::size_t kLatencyStageCount = static_cast<std::size_t>(LatencyStage::count_);

struct alignas(64) WorkerStats {
    runtime::OwnedGauge sessions;
    runtime::OwnedGauge subscriptions;
    runtime::OwnedGauge socketio_sessions;     // of `sessions`, those speaking Socket.IO
    runtime::OwnedCounter socketio_messages_sent;
    runtime::OwnedCounter socketio_malformed;  // sessions closed for a malformed Engine.IO/Socket.IO packet
    runtime::OwnedCounter messages_sent;
    runtime::OwnedCounter bytes_sent;
    runtime::OwnedCounter writes;            // session writes completed (each one buffer, one send or more)
    runtime::OwnedCounter uring_submits;     // io_uring_submit calls that carried sends (uring backend)
    runtime::OwnedCounter tls_sealed_connections;  // TLS connections whose records the gateway seals, not SSL_write
    runtime::OwnedCounter messages_conflated;
    runtime::OwnedCounter book_deltas_merged;   // a slow client's pending book delta folded into a newer one
    runtime::OwnedCounter trades_dropped_slow;  // trades not queued for a client past its queue's half mark
    runtime::OwnedCounter published_dropped_slow;  // published messages (rooms) likewise
    runtime::OwnedCounter slow_consumer_disconnects;
    runtime::OwnedCounter heartbeat_timeouts;
    runtime::OwnedCounter updates_skipped_behind;  // superseded before this worker could fan them out
    runtime::OwnedCounter throttled_messages;      // queued by the ticks of throttled streams
    runtime::OwnedGauge throttled_streams;         // (topic, interval) streams with a subscriber here
    runtime::OwnedCounter throttled_encodes;       // frames those ticks serialized (not per subscriber)
    std::array<runtime::OwnedCounter, kErrorCodeCount> client_errors;  // indexed by protocol::ErrorCode
    runtime::LatencyHistogram fanout_latency;
    std::array<runtime::LatencyHistogram, kLatencyStageCount> stage_latency;

    runtime::LatencyHistogram& stage(LatencyStage s) noexcept { return stage_latency[static_cast<std::size_t>(s)]; }
    void client_error(protocol::ErrorCode code) noexcept { client_errors[static_cast<std::size_t>(code)].add(); }
};

}  // namespace tickgate::gateway
