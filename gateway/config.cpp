#include "gateway/config.hpp"

#include <boost/program_options.hpp>
#include <cstdlib>
#include <sstream>

#include "feeds/feed_flags.hpp"
#include "feeds/runtime/command_line.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {
namespace po = boost::program_options;

namespace {

std::string default_state_dir() {
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/tickgate";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/tickgate";
    return ".tickgate-state";
}

bool parse_admin_tls(const std::string& text, Config::AdminTls& out) {
    if (text == "auto") out = Config::AdminTls::auto_;
    else if (text == "on") out = Config::AdminTls::on;
    else if (text == "off") out = Config::AdminTls::off;
    else return false;
    return true;
}

bool parse_io_backend(const std::string& text, Config::IoBackend& out) {
    if (text == "auto") out = Config::IoBackend::auto_;
    else if (text == "uring") out = Config::IoBackend::uring;
    else if (text == "epoll") out = Config::IoBackend::epoll;
    else return false;
    return true;
}

std::vector<std::string> split_list(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const auto& item : items) {
        std::stringstream in(item);
        std::string part;
        while (std::getline(in, part, ','))
            if (!part.empty()) out.push_back(part);
    }
    return out;
}

/// The operator API's flags, as text until parse_command_line checks them.
struct AdminFlags {
    std::string listen, tls = "auto";
};

po::options_description describe_options(Config& c, std::string& listen, std::string& metrics_listen,
                                         std::string& config_file, std::string& io_backend, AdminFlags& admin) {
    po::options_description d("tickgate options (every option may also be set in --config FILE as key = value)");
    // clang-format off
    d.add_options()
        ("help", "print this help and exit")
        ("version", "print the version and exit")
        ("config", po::value(&config_file), "read options from FILE (key = value lines; flags override it)")
        ("listen", po::value(&listen)->default_value("127.0.0.1:8443"), "HOST:PORT for wss:// (port 0: any free port)")
        ("metrics-listen", po::value(&metrics_listen)->default_value("127.0.0.1:9464"), "HOST:PORT for Prometheus /metrics")
        ("threads", po::value(&c.threads)->default_value(c.threads), "I/O threads (0: one per core)")
        ("cert", po::value(&c.cert_file), "TLS certificate chain (PEM); without --cert/--key a self-signed one is generated")
        ("key", po::value(&c.key_file), "TLS private key (PEM)")
        ("state-dir", po::value(&c.state_dir), "where the generated certificate lives (default $XDG_STATE_HOME/tickgate, else ~/.local/state/tickgate)")
        ("no-tls", po::bool_switch(&c.no_tls), "serve plain ws:// (behind a TLS terminator)")
        ("io-backend", po::value(&io_backend)->default_value("auto"), "auto | uring | epoll: a loop pass's session writes batched into io_uring submissions (32 sends each), or one send() each (auto: uring where io_uring works)");
    feeds::add_feed_flags(d, c.feeds, c.sim,
                   "feed SPEC, repeatable: sim | replay:FILE[,speed=X][,loop] | nats://HOST:PORT[,HOST:PORT...]");
    d.add_options()
        ("nats-subjects", po::value(&c.nats.subjects)->default_value(c.nats.subjects), "NATS feeds: subjects to subscribe to")
        ("nats-reader", po::value(&c.nats.reader)->default_value(c.nats.reader), "NATS feeds: where nats.c reads: worker (worker 0's event loop, where the engine drains the ring: no thread hop per message) or thread (a thread of the feed's own)")
        ("nats-read-coalesce-us", po::value(&c.nats.read_coalesce_us)->default_value(c.nats.read_coalesce_us), "NATS feeds: while per-topic messages keep coming, read them at most once per this many µs (0: at once): fewer wake-ups per update for at most this much latency")
        ("nats-live-subject", po::value(&c.nats.live_subject)->default_value(c.nats.live_subject), "NATS feeds: the publisher's batched live subject, read instead of the per-topic subjects while batches come (auto: PREFIX-live when --nats-subjects is PREFIX.>; none: per-topic only)")
        ("max-connections", po::value(&c.max_connections)->default_value(c.max_connections), "connections in all; beyond: HTTP 503")
        ("max-connections-per-ip", po::value(&c.max_connections_per_ip)->default_value(c.max_connections_per_ip), "connections per client IP; beyond: HTTP 503")
        ("max-subscriptions", po::value(&c.max_subscriptions)->default_value(c.max_subscriptions), "subscriptions per connection (a pattern counts as one)")
        ("max-topics", po::value(&c.max_topics)->default_value(c.max_topics), "distinct topics held; updates for more are dropped and counted")
        ("max-message-bytes", po::value(&c.max_message_bytes)->default_value(c.max_message_bytes), "largest client message; beyond: close 1009")
        ("client-rate", po::value(&c.client_rate)->default_value(c.client_rate), "client messages per second per connection (bursts of 2x)")
        ("max-queue-bytes", po::value(&c.max_queue_bytes)->default_value(c.max_queue_bytes), "per-session send backlog: conflate past half, close 1008 past all")
        ("slow-timeout-ms", po::value(&c.slow_timeout_ms)->default_value(c.slow_timeout_ms), "close 1008 when the send backlog is older than this")
        ("behind-skip-ms", po::value(&c.behind_skip_ms)->default_value(c.behind_skip_ms), "a worker this far behind its feed skips ticker updates already superseded, for everyone (0: never; never book deltas or trades); measured from the update's ts, the publisher's clock with NATS")
        ("heartbeat-ms", po::value(&c.heartbeat_ms)->default_value(c.heartbeat_ms), "ping interval; 3 silent intervals close the connection")
        ("handshake-timeout-ms", po::value(&c.handshake_timeout_ms)->default_value(c.handshake_timeout_ms), "TCP accept to WebSocket open")
        ("stale-ms", po::value(&c.stale_ms)->default_value(c.stale_ms), "a feed with no update for this long is stale")
        ("allowed-origins", po::value<std::vector<std::string>>(), "comma-separated browser Origins allowed to upgrade or to poll Socket.IO, with CORS (default: any)")
        ("jwt-secret-file", po::value(&c.jwt.secret_file), "access control: FILE holds the HS256/384/512 secret (at least 32 bytes)")
        ("jwt-public-key-file", po::value(&c.jwt.public_key_files), "access control: [KID=]FILE, a PEM ES256/RS256 public key, repeatable; the token's kid selects it (default kid: the file name without extension)")
        ("jwt-audience", po::value(&c.jwt.audience), "access control: a token's aud must name this")
        ("jwt-issuer", po::value(&c.jwt.issuer), "access control: a token's iss must be this")
        ("anonymous-topics", po::value<std::vector<std::string>>(), "access control: comma-separated patterns a client without a token may subscribe to (default: none)")
        ("auth-timeout-ms", po::value(&c.auth_timeout_ms)->default_value(c.auth_timeout_ms), "access control: a client with no token and no anonymous topics is closed 4001 after this")
        ("max-connections-per-user", po::value(&c.max_connections_per_user)->default_value(c.max_connections_per_user), "access control: connections per token sub (0: no limit); beyond: HTTP 503, or close 4008 after an auth")
        ("publish-channels", po::value<std::vector<std::string>>(), "comma-separated channels whose rooms clients may publish to (chat: chat.lobby); never ticker, book, book50 or trade (default: none, publishing off)")
        ("max-publish-topics", po::value(&c.max_publish_topics)->default_value(c.max_publish_topics), "rooms on publishable channels in all (apart from --max-topics); a publish opening one more gets too_many_topics")
        ("publish-rate", po::value(&c.publish_rate)->default_value(c.publish_rate), "published messages per second per channel, over every client (bursts of as many); beyond: rate_limited")
        ("history", po::value(&c.history)->default_value(c.history), "messages kept per topic, as sent, for resume (subscribe with since) and Socket.IO recovery (default 0: off); with --feed nats://, also read from JetStream at start and at each reconnect (tickgate-feed --history sets what it keeps)")
        ("history-bytes", po::value(&c.history_bytes)->default_value(c.history_bytes), "bytes of history over all topics; past it the oldest entries anywhere go first")
        ("history-ms", po::value(&c.history_ms)->default_value(c.history_ms), "history entries older than this go (default 0: no age limit)")
        ("history-snapshot", po::value(&c.history_snapshot)->default_value(c.history_snapshot), "trade channels and rooms: the last K messages of the history sent as the snapshot on subscribe (default 0; needs --history)")
        ("socketio-recovery-ms", po::value(&c.socketio_recovery_ms)->default_value(c.socketio_recovery_ms), "Socket.IO connection state recovery: how long a dropped session's subscriptions are kept for the client to recover them (default 0: off; needs --history)");
    d.add_options()
        ("admin-listen", po::value(&admin.listen), "HOST:PORT for the operator API (/api/broadcast, /api/disconnect, /api/connections, /api/publish; default: off)")
        ("admin-key-file", po::value(&c.admin_key_file), "the operator API's bearer key (at least 16 bytes; trailing whitespace is not part of it); required with --admin-listen")
        ("admin-tls", po::value(&admin.tls)->default_value(admin.tls), "auto | on | off: the operator API over TLS with the gateway's certificate (auto: unless --admin-listen is a loopback address)");
    // clang-format on
    runtime::add_log_level_flag(d, c.log_level);
    return d;
}

/// Why `channel` cannot take client publishing, if it cannot.
std::optional<std::string> publish_channel_problem(const std::string& channel) {
    if (protocol::is_market_channel(channel)) return "is a market-data channel: clients can never publish there";
    if (protocol::is_reserved_channel(channel))
        return "is a reserved name (a message type or event; protocol/README.md, \"Reserved names\")";
    if (!protocol::is_valid_channel(channel)) return "is not a channel name ([a-z0-9_]+)";
    // channel.room must fit a topic: at least one character of room.
    if (channel.size() + 2 > protocol::kMaxTopicLength)
        return "is too long: a topic is at most " + std::to_string(protocol::kMaxTopicLength) + " characters";
    return std::nullopt;
}

std::optional<std::string> validate(const Config& c) {
    if (c.threads > 256) return "--threads must be at most 256";
    if (auto problem = feeds::validate_feed_flags(c.feeds, c.sim)) return problem;
    if (c.max_connections == 0) return "--max-connections must be at least 1";
    if (c.max_connections_per_ip == 0) return "--max-connections-per-ip must be at least 1";
    if (c.max_subscriptions == 0) return "--max-subscriptions must be at least 1";
    if (c.max_topics == 0) return "--max-topics must be at least 1";
    if (c.max_message_bytes < 64) return "--max-message-bytes must be at least 64";
    if (c.client_rate == 0) return "--client-rate must be at least 1";
    if (c.max_queue_bytes < 4096) return "--max-queue-bytes must be at least 4096";
    if (c.slow_timeout_ms == 0) return "--slow-timeout-ms must be at least 1";
    if (c.heartbeat_ms < 10) return "--heartbeat-ms must be at least 10";
    if (c.handshake_timeout_ms == 0) return "--handshake-timeout-ms must be at least 1";
    if (c.stale_ms == 0) return "--stale-ms must be at least 1";
    if (c.nats.subjects.empty()) return "--nats-subjects must not be empty";
    if (c.nats.live_subject.empty() || c.nats.live_subject.find_first_of("*> \t") != std::string::npos)
        return "--nats-live-subject must be auto, none or a subject without wildcards";
    if (c.nats.reader != "thread" && c.nats.reader != "worker") return "--nats-reader must be thread or worker";
    if (c.nats.read_coalesce_us > 100000) return "--nats-read-coalesce-us must be at most 100000 (0.1 s)";
    if (c.cert_file.empty() != c.key_file.empty()) return "--cert and --key go together";
    if (!c.jwt.enabled() && (!c.anonymous_topics.empty() || c.max_connections_per_user || !c.jwt.audience.empty() ||
                             !c.jwt.issuer.empty()))
        return "--anonymous-topics, --max-connections-per-user, --jwt-audience and --jwt-issuer need "
               "--jwt-secret-file or --jwt-public-key-file";
    for (const auto& entry : c.anonymous_topics)
        if (protocol::classify_entry(entry) == protocol::EntryKind::invalid)
            return "--anonymous-topics: '" + entry + "' is not a topic or pattern";
    if (c.auth_timeout_ms == 0) return "--auth-timeout-ms must be at least 1";
    for (const auto& channel : c.publish_channels)
        if (auto problem = publish_channel_problem(channel)) return "--publish-channels: '" + channel + "' " + *problem;
    if (c.max_publish_topics == 0) return "--max-publish-topics must be at least 1";
    if (c.publish_rate == 0) return "--publish-rate must be at least 1";
    if (c.history > 1'000'000) return "--history must be at most 1000000";
    if (c.history > 0 && c.history_bytes < 4096) return "--history-bytes must be at least 4096";
    if (c.history_snapshot > 0 && c.history == 0) return "--history-snapshot needs --history";
    if (c.history_snapshot > c.history) return "--history-snapshot must be at most --history";
    if (c.socketio_recovery_ms > 0 && c.history == 0) return "--socketio-recovery-ms needs --history";
    if (c.admin_listen && c.admin_key_file.empty())
        return "--admin-listen needs --admin-key-file (the operator API's bearer key)";
    if (c.admin_tls == Config::AdminTls::on && c.no_tls)
        return "--admin-tls on serves the gateway's certificate, and --no-tls loads none";
    return runtime::validate_log_level(c.log_level);
}

}  // namespace

bool Config::publishable(std::string_view channel) const noexcept {
    for (const auto& c : publish_channels)
        if (c == channel) return true;
    return false;
}

ParseOutcome parse_command_line(int argc, const char* const argv[]) {
    ParseOutcome out;
    Config& c = out.config;
    std::string listen, metrics_listen, config_file, io_backend;
    AdminFlags admin;
    const auto options = describe_options(c, listen, metrics_listen, config_file, io_backend, admin);
    po::variables_map vm;
    if (!runtime::parse_flags_and_config_file("tickgate", argc, argv, options, vm, out.exit_code, out.text)) return out;
    const auto listen_ep = parse_endpoint(listen);
    const auto metrics_ep = parse_endpoint(metrics_listen);
    if (!listen_ep) {
        out.text = "tickgate: --listen must be HOST:PORT, got '" + listen + "'";
        out.exit_code = 2;
        return out;
    }
    if (!metrics_ep) {
        out.text = "tickgate: --metrics-listen must be HOST:PORT, got '" + metrics_listen + "'";
        out.exit_code = 2;
        return out;
    }
    if (!parse_io_backend(io_backend, c.io_backend)) {
        out.text = "tickgate: --io-backend must be auto, uring or epoll, got '" + io_backend + "'";
        out.exit_code = 2;
        return out;
    }
    if (!parse_admin_tls(admin.tls, c.admin_tls)) {
        out.text = "tickgate: --admin-tls must be auto, on or off, got '" + admin.tls + "'";
        out.exit_code = 2;
        return out;
    }
    if (!admin.listen.empty()) {
        c.admin_listen = parse_endpoint(admin.listen);
        if (!c.admin_listen) {
            out.text = "tickgate: --admin-listen must be HOST:PORT, got '" + admin.listen + "'";
            out.exit_code = 2;
            return out;
        }
    } else if (!c.admin_key_file.empty() || !vm["admin-tls"].defaulted()) {
        out.text = "tickgate: --admin-key-file and --admin-tls need --admin-listen";
        out.exit_code = 2;
        return out;
    }
    c.listen = *listen_ep;
    c.metrics_listen = *metrics_ep;
    if (vm.count("allowed-origins")) c.allowed_origins = split_list(vm["allowed-origins"].as<std::vector<std::string>>());
    if (vm.count("anonymous-topics"))
        c.anonymous_topics = split_list(vm["anonymous-topics"].as<std::vector<std::string>>());
    if (vm.count("publish-channels"))
        c.publish_channels = split_list(vm["publish-channels"].as<std::vector<std::string>>());
    if (c.state_dir.empty()) c.state_dir = default_state_dir();
    if (auto problem = validate(c)) {
        out.text = "tickgate: " + *problem;
        out.exit_code = 2;
    }
    return out;
}

}  // namespace tickgate::gateway
