#pragma once
// The NATS plumbing shared by the gateway's subscriber (nats_feed) and the tickgate-feed publisher:
// the server-list grammar, one connection with reconnects under backoff and jitter, the JetStream
// stream that keeps the last message per subject, and the scan that reads those last messages.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct __natsConnection;  // nats.c's natsConnection and natsOptions, kept out of this header
struct __natsOptions;

namespace tickgate::feeds {

/// "HOST:PORT[,HOST:PORT...]" (what follows nats:// in --feed, or --nats with or without it) into
/// nats:// URLs. Returns false and sets `error` when an entry is not HOST:PORT.
bool parse_nats_servers(std::string_view spec, std::vector<std::string>& urls, std::string& error);

/// One client connection. Reconnects forever (also when the first connect fails), waiting
/// min(2 s, 100 ms * 2^attempt) scaled by a random factor in [0.5, 1] between rounds over the
/// server list, so many gateways do not hammer a restarted server in step.
class NatsLink {
public:
    /// Called on the library's callback thread: keep them short and non-blocking.
    struct Events {
        std::function<void()> up;    // connected for the first time, or reconnected
        std::function<void()> down;  // disconnected (the library is reconnecting)
    };

    /// Starts connecting to `urls` (name: shown in the server's connection list). Returns null and
    /// sets `error` only for options the library refuses; an unreachable server is not an error.
    /// configure: more options (a natsStatus from natsOptions*), e.g. an external event loop.
    static std::unique_ptr<NatsLink> open(const std::vector<std::string>& urls, const std::string& name, Events events,
                                          std::string& error,
                                          const std::function<int(__natsOptions*)>& configure = {});
    /// Closes the connection and waits (briefly) for the library's last callback; the connection
    /// stays allocated until destruction. An external event loop must run until this returns.
    void close();
    ~NatsLink();
    NatsLink(const NatsLink&) = delete;
    NatsLink& operator=(const NatsLink&) = delete;

    __natsConnection* get() const noexcept { return nc_; }
    bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }
    std::uint64_t reconnects() const noexcept { return reconnects_.load(std::memory_order_relaxed); }

private:
    NatsLink() = default;
    static void on_connected(__natsConnection* nc, void* self);
    static void on_reconnected(__natsConnection* nc, void* self);
    static void on_disconnected(__natsConnection* nc, void* self);
    static void on_closed(__natsConnection* nc, void* self);

    __natsConnection* nc_ = nullptr;
    Events events_;
    std::atomic<bool> connected_{false};
    std::atomic<bool> closing_{false};
    std::atomic<bool> closed_{false};
    std::atomic<std::uint64_t> reconnects_{0};
};

/// The stream name tickgate uses for subject prefix `prefix` ("md" -> "TICKGATE_md", dots as _).
std::string stream_name_for_prefix(std::string_view prefix);

/// The batched live subject of prefix `prefix` ("md" -> "md-live"): beside the per-topic subjects,
/// outside "<prefix>.>", so neither the JetStream stream nor a gateway subscribed to "<prefix>.>"
/// receives the batches.
std::string live_subject_for_prefix(std::string_view prefix);

/// The subject tickgate-feed serves publish requests on ("md" -> "md-publish"), and the one gateways
/// send each other announcements on ("md" -> "md-announce"): beside the per-topic subjects like the
/// live subject, so JetStream never stores them and no gateway takes them for market data.
std::string publish_subject_for_prefix(std::string_view prefix);
std::string announce_subject_for_prefix(std::string_view prefix);

/// Where JetStream keeps the stream. file: on disk, so its latest values, its history and the seqs
/// a restarted publisher continues from outlive a nats-server restart. memory: lost with the
/// server, but nats-server 2.9's file store writes (and, at one message per subject, deletes) a
/// message per publish, which lengthens the bus's p99 by milliseconds (bench/README.md).
enum class StreamStorage { file, memory };

struct StreamSpec {
    std::int64_t per_subject = 1;  // 1: a table of latest values; more: a history gateways backfill from
    StreamStorage storage = StreamStorage::file;
};

struct StreamEnsured {
    bool created = false;
    bool updated = false;  // an existing stream kept another number per subject: now spec's
    // An existing stream has the other storage. JetStream cannot change it; it is kept as it is.
    bool storage_kept = false;
};

/// Creates stream `name` over "<prefix>.>" as `spec` says, unless it exists; an existing one is
/// brought to spec's per_subject (see StreamEnsured). Returns false and sets `error` when
/// JetStream cannot be reached or refuses.
bool ensure_last_value_stream(__natsConnection* nc, const std::string& name, std::string_view prefix,
                              const StreamSpec& spec, StreamEnsured& result, std::string& error);

enum class LastValuesResult { loaded, no_stream, failed };

/// Reads the last message JetStream holds on every subject matching `subjects` (through an
/// ephemeral consumer delivering the last message per subject, deleted afterwards) and calls
/// on_message(subject, data) for each, on this thread. Stops after `budget`. `count` is how many
/// were delivered. no_stream: no stream covers the subjects (nothing published yet).
LastValuesResult read_last_values(__natsConnection* nc, const std::string& subjects, std::chrono::milliseconds budget,
                                  const std::function<void(std::string_view subject, std::string_view data)>& on_message,
                                  std::size_t& count, std::string& error);

/// Reads the last `per_subject` messages JetStream holds on every subject matching `subjects`, or
/// fewer where it holds fewer (through an ephemeral consumer delivering everything the stream
/// holds, deleted afterwards), at most `max_subjects` subjects, and calls on_message for each in
/// the stream's order (so each subject's in seq order), on this thread, once all are read. The
/// same results and budget as read_last_values; `count` is how many were read from the stream.
LastValuesResult read_recent_values(__natsConnection* nc, const std::string& subjects, std::size_t per_subject,
                                    std::size_t max_subjects, std::chrono::milliseconds budget,
                                    const std::function<void(std::string_view subject, std::string_view data)>& on_message,
                                    std::size_t& count, std::string& error);

}  // namespace tickgate::feeds
