#include "gateway/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>

#include "feeds/feed_adapter.hpp"
#include "feeds/runtime/prometheus_fold.hpp"
#include "feeds/upstream_stats.hpp"

#include "gateway/admin/admin_api.hpp"
#include "gateway/admission.hpp"
#include "gateway/fanout/broadcast_engine.hpp"
#include "gateway/fanout/topic_history.hpp"
#include "gateway/session/recovery_store.hpp"
#include "gateway/server.hpp"
#include "gateway/fanout/worker.hpp"
#include "protocol/errors.hpp"

namespace tickgate::gateway {
namespace pm = prometheus;
using runtime::set_total;

struct Metrics::Families {
    pm::Registry registry;
    pm::Gauge& connections;
    pm::Family<pm::Counter>& connections_total;
    pm::Counter& accept_errors;
    pm::Gauge& subscriptions;
    pm::Gauge& topics;
    pm::Family<pm::Counter>& feed_updates;
    pm::Family<pm::Counter>& feed_dropped_late;
    pm::Family<pm::Gauge>& feed_age;
    pm::Family<pm::Gauge>& feed_fresh;
    pm::Counter& feed_conflicts;
    pm::Counter& topic_limit_drops;
    pm::Counter& messages_sent;
    pm::Counter& bytes_sent;
    pm::Counter& writes;
    pm::Counter& uring_submits;
    pm::Counter& tls_sealed_connections;
    pm::Family<pm::Gauge>& io_backend;
    pm::Counter& messages_conflated;
    pm::Counter& book_deltas_merged;
    pm::Counter& trades_dropped_slow;
    pm::Counter& published_dropped_slow;
    pm::Family<pm::Counter>& published_messages;
    pm::Gauge& publish_topics;
    pm::Gauge& history_bytes;
    pm::Gauge& history_entries;
    pm::Family<pm::Counter>& history_evictions;
    pm::Gauge& socketio_recovery_sessions;
    pm::Family<pm::Counter>& socketio_recoveries;
    pm::Counter& slow_consumers;
    pm::Counter& heartbeat_timeouts;
    pm::Counter& skipped_behind;
    pm::Counter& throttled_messages;
    pm::Gauge& throttled_streams;
    pm::Counter& throttled_encodes;
    pm::Family<pm::Gauge>& connections_by_protocol;
    pm::Family<pm::Counter>& messages_by_protocol;
    pm::Counter& socketio_malformed;
    pm::Family<pm::Counter>& client_errors;
    pm::Gauge& ring_depth;
    pm::Gauge& ring_capacity;
    pm::Counter& ring_full;
    pm::Counter& engine_waits;
    pm::Histogram& fanout_latency;
    runtime::HistogramFold fanout_folded;
    pm::Family<pm::Histogram>& stage_family;
    std::array<pm::Histogram*, kLatencyStageCount> stage_latency{};
    std::array<runtime::HistogramFold, kLatencyStageCount> stage_folded;
    // Feeds fed over the network (nats://), labelled by feed.
    pm::Family<pm::Gauge>& upstream_connected;
    pm::Family<pm::Counter>& upstream_messages;
    pm::Family<pm::Counter>& upstream_decode_errors;
    pm::Family<pm::Counter>& upstream_reconnects;
    pm::Family<pm::Counter>& upstream_duplicates;
    pm::Family<pm::Counter>& upstream_unknown_records;
    pm::Family<pm::Counter>& upstream_topic_limit_drops;
    pm::Family<pm::Counter>& upstream_filtered;
    pm::Family<pm::Gauge>& upstream_batched;
    pm::Family<pm::Counter>& upstream_ring_waits;
    pm::Family<pm::Counter>& upstream_book_gaps;
    pm::Family<pm::Counter>& upstream_book_bases;
    pm::Family<pm::Gauge>& upstream_books_waiting;
    pm::Family<pm::Counter>& upstream_client_messages;
    pm::Family<pm::Counter>& upstream_announcements;
    pm::Family<pm::Counter>& upstream_publish_errors;
    pm::Family<pm::Histogram>& upstream_latency;
    std::map<std::string, runtime::HistogramFold> upstream_folded;
    // The operator API (--admin-listen).
    pm::Family<pm::Counter>& admin_requests;
    pm::Family<pm::Counter>& reloads;

    explicit Families()
        : connections(gauge("tickgate_connections", "Open client sessions (WebSocket, and Socket.IO long-polling sessions)")),
          connections_total(pm::BuildCounter()
                                .Name("tickgate_connections_total")
                                .Help("Accepted TCP connections by what became of them")
                                .Register(registry)),
          accept_errors(counter("tickgate_accept_errors_total",
                                "accept() failures (e.g. out of file descriptors); the listener backs off and resumes")),
          subscriptions(gauge("tickgate_subscriptions", "Subscription entries held (a pattern counts as one)")),
          topics(gauge("tickgate_topics", "Distinct topics known")),
          feed_updates(pm::BuildCounter().Name("tickgate_feed_updates_total").Help("Updates received per feed").Register(registry)),
          feed_dropped_late(pm::BuildCounter()
                                .Name("tickgate_feed_updates_dropped_late_total")
                                .Help("Updates a paced feed (simulator) skipped because its thread ran over 0.1 s late")
                                .Register(registry)),
          feed_age(pm::BuildGauge().Name("tickgate_feed_age_seconds").Help("Time since the feed's last update").Register(registry)),
          feed_fresh(pm::BuildGauge().Name("tickgate_feed_fresh").Help("1 while the feed updated within --stale-ms").Register(registry)),
          feed_conflicts(counter("tickgate_feed_conflicts_total", "Updates dropped because another feed owns the topic")),
          topic_limit_drops(counter("tickgate_topic_limit_drops_total", "Updates dropped because --max-topics was reached")),
          messages_sent(counter("tickgate_messages_sent_total", "WebSocket messages written to clients")),
          bytes_sent(counter("tickgate_bytes_sent_total", "Bytes written to clients (before TLS)")),
          writes(counter("tickgate_writes_total", "Session writes completed; messages sent / writes = messages per write")),
          uring_submits(counter("tickgate_uring_submits_total",
                                "io_uring_submit calls that carried session writes (uring backend); writes / this = sends per kernel call")),
          tls_sealed_connections(counter("tickgate_tls_sealed_connections_total",
                                         "WebSocket connections whose TLS 1.3 records the gateway seals itself; the others (TLS 1.2, max_fragment_length) write through SSL_write")),
          io_backend(pm::BuildGauge()
                         .Name("tickgate_io_backend")
                         .Help("1 for the backend the workers write through (--io-backend, resolved)")
                         .Register(registry)),
          messages_conflated(counter("tickgate_messages_conflated_total",
                                     "Live updates replaced by a newer one of the same topic for a slow client")),
          book_deltas_merged(counter("tickgate_book_deltas_merged_total",
                                     "Book deltas a slow client's queue merged into a newer pending delta of the view")),
          trades_dropped_slow(counter("tickgate_trades_dropped_slow_total",
                                      "Trades not queued for a slow client past half its queue bound")),
          published_dropped_slow(counter("tickgate_published_dropped_slow_total",
                                         "Published messages (rooms) not queued for a slow client past half its queue bound")),
          published_messages(pm::BuildCounter()
                                 .Name("tickgate_published_messages_total")
                                 .Help("Client-published messages by what became of them: delivered, rate_limited, "
                                       "too_many_topics, unavailable, stale, dropped")
                                 .Register(registry)),
          publish_topics(gauge("tickgate_publish_topics", "Rooms on publishable channels (--max-publish-topics bounds them)")),
          history_bytes(gauge("tickgate_history_bytes", "Bytes the history holds over all topics (--history-bytes bounds them)")),
          history_entries(gauge("tickgate_history_entries", "Messages the history holds over all topics")),
          history_evictions(pm::BuildCounter()
                                .Name("tickgate_history_evictions_total")
                                .Help("History entries dropped, by reason: count (--history per topic), bytes "
                                      "(--history-bytes), age (--history-ms)")
                                .Register(registry)),
          socketio_recovery_sessions(gauge("tickgate_socketio_recovery_sessions",
                                           "Socket.IO sessions kept for connection state recovery")),
          socketio_recoveries(pm::BuildCounter()
                                  .Name("tickgate_socketio_recoveries_total")
                                  .Help("Socket.IO sessions kept for recovery, by what became of them: recovered, "
                                        "restored (history fell short: snapshots), refused (pid unknown, another sub, "
                                        "an entry no longer allowed), expired, evicted")
                                  .Register(registry)),
          slow_consumers(counter("tickgate_slow_consumer_disconnects_total", "Clients closed with 1008 slow consumer")),
          heartbeat_timeouts(counter("tickgate_heartbeat_timeouts_total", "Clients closed after 3 silent heartbeats")),
          skipped_behind(counter("tickgate_updates_skipped_behind_total",
                                 "Updates a lagging worker skipped because a newer one of the topic was queued")),
          throttled_messages(counter("tickgate_throttled_messages_total",
                                     "Messages queued to clients by the ticks of throttled subscriptions (@interval)")),
          throttled_streams(gauge("tickgate_throttled_streams",
                                  "Throttled streams, one per (topic, interval) with a subscriber, summed over workers")),
          throttled_encodes(counter("tickgate_throttled_frames_encoded_total",
                                    "Frames serialized by throttled streams' ticks (merged book deltas, Socket.IO "
                                    "framings): once per stream and tick, not per subscriber")),
          connections_by_protocol(pm::BuildGauge()
                                      .Name("tickgate_connections_by_protocol")
                                      .Help("Open sessions by wire protocol (v1, socketio)")
                                      .Register(registry)),
          messages_by_protocol(pm::BuildCounter()
                                   .Name("tickgate_messages_sent_by_protocol_total")
                                   .Help("Messages written to clients by wire protocol")
                                   .Register(registry)),
          socketio_malformed(counter("tickgate_socketio_malformed_packets_total",
                                     "Socket.IO sessions closed for a malformed Engine.IO or Socket.IO packet")),
          client_errors(pm::BuildCounter().Name("tickgate_client_errors_total").Help("Error frames sent to clients by code").Register(registry)),
          ring_depth(gauge("tickgate_ring_depth", "Updates waiting in the feed ring")),
          ring_capacity(gauge("tickgate_ring_capacity", "Slots in the feed ring")),
          ring_full(counter("tickgate_ring_full_total", "Times a feed found the ring full and had to wait")),
          engine_waits(counter("tickgate_engine_backpressure_waits_total",
                               "Times the broadcast engine waited for a worker that was behind")),
          fanout_latency(pm::BuildHistogram()
                             .Name("tickgate_fanout_latency_seconds")
                             .Help("Feed timestamp to completion of the write carrying it (oldest update per write)")
                             .Register(registry)
                             .Add({}, runtime::latency_bucket_boundaries())),
          stage_family(pm::BuildHistogram()
                           .Name("tickgate_latency_stage_seconds")
                           .Help("The fan-out latency's parts: ring (feed ts to the engine taking the update, "
                                 "per update), handoff (engine to worker, per batch and worker), queue (worker to "
                                 "the session's write starting, per write) and write (its start to the kernel "
                                 "having every byte, per write)")
                           .Register(registry)),
          upstream_connected(pm::BuildGauge()
                                 .Name("tickgate_upstream_connected")
                                 .Help("1 while the feed's upstream (NATS) connection is up")
                                 .Register(registry)),
          upstream_messages(pm::BuildCounter()
                                .Name("tickgate_upstream_messages_total")
                                .Help("Messages received from the upstream, live or latest values at (re)connect")
                                .Register(registry)),
          upstream_decode_errors(pm::BuildCounter()
                                     .Name("tickgate_upstream_decode_errors_total")
                                     .Help("Upstream messages skipped: not a bus record, or a subject without a valid topic")
                                     .Register(registry)),
          upstream_reconnects(pm::BuildCounter()
                                  .Name("tickgate_upstream_reconnects_total")
                                  .Help("Reconnections to the upstream after a disconnect")
                                  .Register(registry)),
          upstream_duplicates(pm::BuildCounter()
                                  .Name("tickgate_upstream_duplicates_total")
                                  .Help("Upstream updates skipped because their seq was not above the topic's last")
                                  .Register(registry)),
          upstream_unknown_records(pm::BuildCounter()
                                       .Name("tickgate_upstream_unknown_records_total")
                                       .Help("Bus v2 records of a type this gateway does not know, skipped")
                                       .Register(registry)),
          upstream_topic_limit_drops(pm::BuildCounter()
                                         .Name("tickgate_upstream_topic_limit_drops_total")
                                         .Help("Upstream updates skipped because --max-topics topics were already tracked")
                                         .Register(registry)),
          upstream_filtered(pm::BuildCounter()
                                .Name("tickgate_upstream_filtered_total")
                                .Help("Updates of the batched live subject outside --nats-subjects, skipped")
                                .Register(registry)),
          upstream_batched(pm::BuildGauge()
                               .Name("tickgate_upstream_batched")
                               .Help("1 while the feed reads the publisher's batched live subject, 0 on the per-topic subjects")
                               .Register(registry)),
          upstream_ring_waits(pm::BuildCounter()
                                  .Name("tickgate_upstream_ring_waits_total")
                                  .Help("Times a reader on worker 0 left messages in the library until the engine had drained the ring")
                                  .Register(registry)),
          upstream_book_gaps(pm::BuildCounter()
                                 .Name("tickgate_upstream_book_gaps_total")
                                 .Help("Book deltas from the upstream that skipped a seq: the book waits for a keyframe")
                                 .Register(registry)),
          upstream_book_bases(pm::BuildCounter()
                                  .Name("tickgate_upstream_book_bases_total")
                                  .Help("Keyframes or full books that gave an upstream book a base to apply deltas to")
                                  .Register(registry)),
          upstream_books_waiting(pm::BuildGauge()
                                     .Name("tickgate_upstream_books_waiting")
                                     .Help("Upstream books without a base right now: not served until a keyframe comes")
                                     .Register(registry)),
          upstream_client_messages(pm::BuildCounter()
                                       .Name("tickgate_upstream_client_messages_total")
                                       .Help("Client-published messages (bus record type 4) from the upstream, any gateway's, handed to the engine")
                                       .Register(registry)),
          upstream_announcements(pm::BuildCounter()
                                     .Name("tickgate_upstream_announcements_total")
                                     .Help("Other gateways' operator announcements from the upstream, handed to this gateway's clients")
                                     .Register(registry)),
          upstream_publish_errors(pm::BuildCounter()
                                      .Name("tickgate_upstream_publish_errors_total")
                                      .Help("Publishes forwarded to the publisher that ended in an error (refused, timed out, NATS down, no publisher)")
                                      .Register(registry)),
          upstream_latency(pm::BuildHistogram()
                               .Name("tickgate_upstream_latency_seconds")
                               .Help("Publisher timestamp to insertion into the gateway's ring (live updates)")
                               .Register(registry)),
          admin_requests(pm::BuildCounter()
                             .Name("tickgate_admin_requests_total")
                             .Help("Operator API calls by endpoint (broadcast, disconnect, connections, publish, other) and HTTP status")
                             .Register(registry)),
          reloads(pm::BuildCounter()
                      .Name("tickgate_reloads_total")
                      .Help("SIGHUP reloads by what (certificate, jwt_keys, admin_key) and result (ok; failed: the old one kept, the log says why)")
                      .Register(registry)) {
        static constexpr std::array<const char*, kLatencyStageCount> kStageNames = {"ring", "handoff", "queue", "write"};
        for (std::size_t i = 0; i < kLatencyStageCount; ++i)
            stage_latency[i] = &stage_family.Add({{"stage", kStageNames[i]}}, runtime::latency_bucket_boundaries());
    }

    pm::Gauge& gauge(const char* name, const char* help) {
        return pm::BuildGauge().Name(name).Help(help).Register(registry).Add({});
    }
    pm::Counter& counter(const char* name, const char* help) {
        return pm::BuildCounter().Name(name).Help(help).Register(registry).Add({});
    }
};

Metrics::Metrics(const Server& server) : server_(server), families_(std::make_unique<Families>()) {}
Metrics::~Metrics() = default;

std::string Metrics::scrape() {
    std::lock_guard lock(mutex_);
    Families& f = *families_;

    std::int64_t sessions = 0, subscriptions = 0;
    std::uint64_t writes = 0, submits = 0, sealed = 0;
    std::uint64_t sent = 0, bytes = 0, conflated = 0, slow = 0, heartbeats = 0, skipped = 0, merged = 0, trades_dropped = 0;
    std::uint64_t throttled = 0;
    std::uint64_t throttled_encodes = 0;
    std::int64_t streams = 0;
    std::uint64_t published_dropped = 0;
    std::int64_t sio_sessions = 0;
    std::uint64_t sio_sent = 0, sio_malformed = 0;
    std::array<std::uint64_t, kErrorCodeCount> errors{};
    runtime::LatencyHistogram::Buckets buckets{};
    std::uint64_t sum_ns = 0;
    std::array<runtime::LatencyHistogram::Buckets, kLatencyStageCount> stage_buckets{};
    std::array<std::uint64_t, kLatencyStageCount> stage_sum_ns{};
    for (const auto& w : server_.workers()) {
        const WorkerStats& s = w->stats();
        sessions += s.sessions.get();
        subscriptions += s.subscriptions.get();
        sent += s.messages_sent.get();
        bytes += s.bytes_sent.get();
        writes += s.writes.get();
        submits += s.uring_submits.get();
        sealed += s.tls_sealed_connections.get();
        conflated += s.messages_conflated.get();
        merged += s.book_deltas_merged.get();
        trades_dropped += s.trades_dropped_slow.get();
        published_dropped += s.published_dropped_slow.get();
        slow += s.slow_consumer_disconnects.get();
        heartbeats += s.heartbeat_timeouts.get();
        skipped += s.updates_skipped_behind.get();
        throttled += s.throttled_messages.get();
        streams += s.throttled_streams.get();
        throttled_encodes += s.throttled_encodes.get();
        sio_sessions += s.socketio_sessions.get();
        sio_sent += s.socketio_messages_sent.get();
        sio_malformed += s.socketio_malformed.get();
        for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += s.client_errors[i].get();
        const auto b = s.fanout_latency.buckets();
        for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += b[i];
        sum_ns += s.fanout_latency.sum_ns();
        for (std::size_t k = 0; k < kLatencyStageCount; ++k) {
            const auto sb = s.stage_latency[k].buckets();
            for (std::size_t i = 0; i < sb.size(); ++i) stage_buckets[k][i] += sb[i];
            stage_sum_ns[k] += s.stage_latency[k].sum_ns();
        }
    }
    f.connections.Set(static_cast<double>(sessions));
    f.subscriptions.Set(static_cast<double>(subscriptions));
    set_total(f.messages_sent, static_cast<double>(sent));
    set_total(f.bytes_sent, static_cast<double>(bytes));
    set_total(f.writes, static_cast<double>(writes));
    set_total(f.uring_submits, static_cast<double>(submits));
    set_total(f.tls_sealed_connections, static_cast<double>(sealed));
    f.io_backend.Add({{"backend", server_.io_backend()}}).Set(1);
    set_total(f.messages_conflated, static_cast<double>(conflated));
    set_total(f.book_deltas_merged, static_cast<double>(merged));
    set_total(f.trades_dropped_slow, static_cast<double>(trades_dropped));
    set_total(f.published_dropped_slow, static_cast<double>(published_dropped));
    set_total(f.slow_consumers, static_cast<double>(slow));
    set_total(f.heartbeat_timeouts, static_cast<double>(heartbeats));
    set_total(f.skipped_behind, static_cast<double>(skipped));
    set_total(f.throttled_messages, static_cast<double>(throttled));
    f.throttled_streams.Set(static_cast<double>(streams));
    set_total(f.throttled_encodes, static_cast<double>(throttled_encodes));
    f.connections_by_protocol.Add({{"protocol", "v1"}}).Set(static_cast<double>(sessions - sio_sessions));
    f.connections_by_protocol.Add({{"protocol", "socketio"}}).Set(static_cast<double>(sio_sessions));
    set_total(f.messages_by_protocol.Add({{"protocol", "v1"}}), static_cast<double>(sent - sio_sent));
    set_total(f.messages_by_protocol.Add({{"protocol", "socketio"}}), static_cast<double>(sio_sent));
    set_total(f.socketio_malformed, static_cast<double>(sio_malformed));
    for (std::size_t i = 0; i < errors.size(); ++i) {
        const auto name = protocol::error_code_name(static_cast<protocol::ErrorCode>(i));
        set_total(f.client_errors.Add({{"code", std::string(name)}}), static_cast<double>(errors[i]));
    }
    f.fanout_folded.fold(f.fanout_latency, buckets, sum_ns);
    for (std::size_t k = 0; k < kLatencyStageCount; ++k)
        f.stage_folded[k].fold(*f.stage_latency[k], stage_buckets[k], stage_sum_ns[k]);

    for (int r = 0; r < static_cast<int>(ConnectionResult::count); ++r) {
        const auto result = static_cast<ConnectionResult>(r);
        set_total(f.connections_total.Add({{"result", connection_result_name(result)}}),
                  static_cast<double>(server_.admission().counted(result)));
    }
    set_total(f.accept_errors, static_cast<double>(server_.admission().accept_errors()));

    const BroadcastEngine& engine = server_.engine();
    f.topics.Set(static_cast<double>(engine.topic_count()));
    set_total(f.feed_conflicts, static_cast<double>(engine.conflicts()));
    set_total(f.topic_limit_drops, static_cast<double>(engine.topic_limit_drops()));
    set_total(f.engine_waits, static_cast<double>(engine.worker_backpressure_waits()));
    for (std::size_t r = 0; r < static_cast<std::size_t>(PublishedResult::count_); ++r) {
        const auto result = static_cast<PublishedResult>(r);
        set_total(f.published_messages.Add({{"result", std::string(published_result_name(result))}}),
                  static_cast<double>(engine.published(result)));
    }
    f.publish_topics.Set(static_cast<double>(engine.publish_topic_count()));
    if (const TopicHistory* history = server_.history()) {
        f.history_bytes.Set(static_cast<double>(history->bytes()));
        f.history_entries.Set(static_cast<double>(history->entries()));
        const auto ev = history->evictions();
        set_total(f.history_evictions.Add({{"reason", "count"}}), static_cast<double>(ev.count));
        set_total(f.history_evictions.Add({{"reason", "bytes"}}), static_cast<double>(ev.bytes));
        set_total(f.history_evictions.Add({{"reason", "age"}}), static_cast<double>(ev.age));
    }
    if (const RecoveryStore* recovery = server_.recovery_store()) {
        f.socketio_recovery_sessions.Set(static_cast<double>(recovery->size()));
        const auto c = recovery->counts();
        for (const auto& [result, n] : {std::pair{"recovered", c.recovered}, std::pair{"restored", c.restored},
                                        std::pair{"refused", c.refused}, std::pair{"expired", c.expired},
                                        std::pair{"evicted", c.evicted}})
            set_total(f.socketio_recoveries.Add({{"result", result}}), static_cast<double>(n));
    }
    for (const auto& feed : engine.feed_health()) {
        set_total(f.feed_updates.Add({{"feed", feed.name}}), static_cast<double>(feed.updates));
        f.feed_age.Add({{"feed", feed.name}}).Set(static_cast<double>(feed.age_ms) / 1000.0);
        f.feed_fresh.Add({{"feed", feed.name}}).Set(feed.fresh ? 1 : 0);
    }
    for (const feeds::FeedAdapter* adapter : server_.feed_adapters()) {
        set_total(f.feed_dropped_late.Add({{"feed", adapter->name()}}),
                  static_cast<double>(adapter->updates_dropped_late()));
        const feeds::UpstreamStats* up = adapter->upstream_stats();
        if (!up) continue;
        const pm::Labels labels{{"feed", adapter->name()}};
        f.upstream_connected.Add(labels).Set(up->connected.load(std::memory_order_relaxed) ? 1 : 0);
        set_total(f.upstream_messages.Add(labels), static_cast<double>(up->messages.get()));
        set_total(f.upstream_decode_errors.Add(labels), static_cast<double>(up->decode_errors.get()));
        set_total(f.upstream_reconnects.Add(labels), static_cast<double>(up->reconnects.load(std::memory_order_relaxed)));
        set_total(f.upstream_duplicates.Add(labels), static_cast<double>(up->duplicates.get()));
        set_total(f.upstream_unknown_records.Add(labels), static_cast<double>(up->unknown_records.get()));
        set_total(f.upstream_topic_limit_drops.Add(labels), static_cast<double>(up->topic_limit_drops.get()));
        set_total(f.upstream_filtered.Add(labels), static_cast<double>(up->filtered.get()));
        f.upstream_batched.Add(labels).Set(up->batched.load(std::memory_order_relaxed) ? 1 : 0);
        set_total(f.upstream_book_gaps.Add(labels), static_cast<double>(up->book_gaps.get()));
        set_total(f.upstream_ring_waits.Add(labels), static_cast<double>(up->ring_waits.get()));
        set_total(f.upstream_book_bases.Add(labels), static_cast<double>(up->book_bases.get()));
        f.upstream_books_waiting.Add(labels).Set(static_cast<double>(up->books_waiting.load(std::memory_order_relaxed)));
        set_total(f.upstream_client_messages.Add(labels), static_cast<double>(up->client_messages.get()));
        set_total(f.upstream_announcements.Add(labels), static_cast<double>(up->announcements.get()));
        set_total(f.upstream_publish_errors.Add(labels), static_cast<double>(up->publish_errors.get()));
        auto& histogram = f.upstream_latency.Add(labels, runtime::latency_bucket_boundaries());
        f.upstream_folded[adapter->name()].fold(histogram, up->latency.buckets(), up->latency.sum_ns());
    }
    if (const admin::AdminApi* api = server_.admin_api())
        for (const auto& c : api->call_counts())
            set_total(f.admin_requests.Add({{"endpoint", std::string(admin::endpoint_name(c.endpoint))},
                                            {"status", std::to_string(c.status)}}),
                      static_cast<double>(c.calls));
    for (const auto what : {Reloadable::certificate, Reloadable::jwt_keys, Reloadable::admin_key}) {
        const std::string name(reloadable_name(what));
        set_total(f.reloads.Add({{"what", name}, {"result", "ok"}}), static_cast<double>(server_.reloads().ok(what)));
        set_total(f.reloads.Add({{"what", name}, {"result", "failed"}}), static_cast<double>(server_.reloads().failed(what)));
    }
    const auto& channel = server_.channel();
    f.ring_depth.Set(static_cast<double>(channel.depth()));
    f.ring_capacity.Set(static_cast<double>(channel.capacity()));
    set_total(f.ring_full, static_cast<double>(channel.full_events()));

    return runtime::text_exposition(f.registry);
}

}  // namespace tickgate::gateway
