#pragma once
// Everything an operator can set, as one plain struct with its defaults, and the one parser that
// fills it from flags and an optional --config file (Boost.Program_options, `key = value`).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "feeds/feed_adapter.hpp"
#include "feeds/runtime/endpoint.hpp"
#include "gateway/auth/token_verifier.hpp"

namespace tickgate::gateway {

// The gateway names its listen addresses as it always did; the type and its parser are the
// runtime's, shared with tickgate-feed.
using runtime::Endpoint;
using runtime::parse_endpoint;

struct Config {
    Endpoint listen{"127.0.0.1", 8443};          // wss (or ws with no_tls) and /healthz, /readyz
    Endpoint metrics_listen{"127.0.0.1", 9464};  // Prometheus /metrics
    unsigned threads = 0;                        // I/O threads; 0 = one per core

    std::string cert_file, key_file;  // both empty: a self-signed certificate in state_dir
    std::string state_dir;            // default $XDG_STATE_HOME/tickgate or ~/.local/state/tickgate
    bool no_tls = false;              // plain ws, for use behind a TLS terminator
    /// How sessions' writes reach the kernel: one send() each as the socket is ready (epoll), or
    /// the writes of a loop pass in io_uring submissions of up to 32 (uring); auto: uring where it works.
    enum class IoBackend { auto_, uring, epoll } io_backend = IoBackend::auto_;

    std::vector<std::string> feeds{"sim"};  // --feed SPEC, repeatable; the first publisher of a topic owns it
    feeds::SimulatorOptions sim;
    feeds::NatsOptions nats;  // nats:// feeds: subjects (--nats-subjects); max_topics comes from --max-topics

    // Limits: each bounds what one client, or all of them, can make the gateway hold.
    std::uint32_t max_connections = 10000;          // beyond it: HTTP 503
    std::uint32_t max_connections_per_ip = 1000;    // beyond it: HTTP 503
    std::uint32_t max_subscriptions = 256;          // per connection; a pattern counts as one
    std::uint32_t max_topics = 100000;              // updates for further new topics are dropped and counted
    std::uint32_t max_message_bytes = 4096;         // client frames; beyond it: close 1009
    std::uint32_t client_rate = 50;                 // client messages/s per connection, bursts of 2x
    std::uint32_t max_queue_bytes = 1u << 20;       // per session; conflate past half, close past all
    std::uint32_t slow_timeout_ms = 5000;           // backlog older than this: close 1008
    std::uint32_t behind_skip_ms = 250;             // worker lag past which superseded tickers are skipped; 0: never
    std::uint32_t heartbeat_ms = 20000;             // server ping interval; 3 silent intervals: close
    std::uint32_t handshake_timeout_ms = 5000;      // TCP accept to WebSocket open
    std::uint32_t stale_ms = 5000;                  // a feed with no update for this long is stale
    std::vector<std::string> allowed_origins;       // empty: any Origin may upgrade

    // Access control (gateway/auth/): off, exactly as without it, unless a key is configured.
    auth::KeySettings jwt;                     // --jwt-secret-file, --jwt-public-key-file, --jwt-audience, --jwt-issuer
    std::vector<std::string> anonymous_topics;  // patterns a client without a token may subscribe to
    std::uint32_t auth_timeout_ms = 10000;      // no token, no anonymous topics: close 4001 after this
    std::uint32_t max_connections_per_user = 0; // per token sub; 0: no limit

    // Client publishing (protocol/README.md, "Publishing"): off unless channels are listed.
    std::vector<std::string> publish_channels;  // channels whose rooms clients publish to ("chat": chat.lobby)
    std::uint32_t max_publish_topics = 1000;    // rooms in all, apart from --max-topics: chat cannot starve market data
    std::uint32_t publish_rate = 100;           // messages/s per channel over every client (bursts of as many)

    // History and recovery (protocol/README.md, "Resume"): off unless --history is set.
    std::uint32_t history = 0;                  // messages kept per topic; 0: no history, no resume
    std::uint64_t history_bytes = 64ull << 20;  // over all topics; the oldest anywhere go first
    std::uint32_t history_ms = 0;               // entries older than this go; 0: no age limit
    std::uint32_t history_snapshot = 0;         // trade and rooms: the last K sent as a snapshot on subscribe
    std::uint32_t socketio_recovery_ms = 0;     // Socket.IO connection state recovery window; 0: off

    /// True when clients may publish to rooms of `channel`.
    bool publishable(std::string_view channel) const noexcept;
    // The operator API (gateway/admin/): off unless admin_listen is set.
    std::optional<Endpoint> admin_listen;  // --admin-listen HOST:PORT
    std::string admin_key_file;            // the bearer key; required with admin_listen
    /// TLS on the admin port, with the gateway's certificate. auto: unless the bind is loopback
    /// (a key crossing a network must be encrypted; on loopback it never leaves the machine).
    enum class AdminTls { auto_, on, off } admin_tls = AdminTls::auto_;

    std::string log_level = "info";  // debug, info, warn, error
};

/// Outcome of parsing the command line. exit_code is set when the program should stop now:
/// 0 after --help or --version (text holds what to print on stdout), 2 for a bad flag or config file
/// (text holds the one-line error for stderr).
struct ParseOutcome {
    Config config;
    std::optional<int> exit_code;
    std::string text;
};

ParseOutcome parse_command_line(int argc, const char* const argv[]);

}  // namespace tickgate::gateway
