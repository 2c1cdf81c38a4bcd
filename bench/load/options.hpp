#pragma once
// tickgate-load's parameters: one struct with commented defaults, one parser, --help generated from it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/topic_choice.hpp"

namespace tickgate::load {

enum class WireProtocol { v1, socketio };
enum class SubscribeVia { message, query };
enum class SlowMode { none, stall, rate };

struct Url {
    bool tls = true;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8443;
    std::string target = "/ws";  // path and query
};

/// Parses ws://host:port/path or wss://...; nullopt when malformed.
std::optional<Url> parse_url(std::string_view text);

struct Options {
    Url url;                                   // --url; the gateway's default endpoint
    WireProtocol protocol = WireProtocol::v1;  // --protocol v1|socketio
    unsigned connections = 100;                // --connections: clients held open together
    double connect_rate = 1000;                // --connect-rate: new connections per second (0: no pacing)
    unsigned sources = 0;                      // --sources: loopback source addresses; 0: one per 500 connections,
                                               // under the gateway's default 1,000 per IP and far from one
                                               // address's ~28k ephemeral ports
    unsigned threads = 0;                      // --threads: io_contexts, one thread each; 0: all cores
    std::vector<std::string> topics;           // --topics: topics or patterns to draw from; empty: ask the server (op list)
    unsigned per_connection = 1;               // --per-connection: topics each connection subscribes to
    std::vector<DrawGroup> draws;              // --draw PATTERN=K (repeatable): K topics matching PATTERN per
                                               // connection from each group, instead of --per-connection
    std::vector<std::string> slow_topics;      // --slow-topics LIST: what slow clients subscribe to instead
    std::string distribution = "uniform";      // --distribution uniform|zipf[:S] (S=1.0): rank = order of --topics/list
    SubscribeVia subscribe_via = SubscribeVia::message;  // --subscribe-via message|query (/ws?subscribe=)
    double duration_s = 10;                    // --duration: measured window, after every connection is up
    double warmup_s = 1;                       // --warmup: between the last connection and the window
    std::uint64_t messages = 0;                // --messages: end the window after this many updates (0: off)
    bool churn = false;                        // --churn: connect, subscribe, await the ack, close, repeat
    double slow_fraction = 0;                  // --slow-fraction: share of connections that read slowly
    SlowMode slow_mode = SlowMode::none;       // --slow-mode stall|rate:BYTES_PER_S
    double slow_rate = 0;                      //   bytes/s for rate mode
    unsigned slow_rcvbuf = 0;                  // --slow-rcvbuf: SO_RCVBUF of slow clients (0: the kernel's autotuning)
    double slow_drain_s = 1;                   // --slow-drain: after the window, stalled clients read this long
    std::vector<int> pids;                     // --pid: processes to sample from /proc (repeatable)
    std::string out;                           // --out: JSON result file
    std::string label;                         // --label: name recorded in the JSON (the scenario)
    std::string ca_file;                       // --ca: verify the server's certificate against this; default: no check
    std::uint64_t seed = 1;                    // --seed: topic choice and slow-connection choice
    bool quiet = false;                        // --quiet: no progress lines
    std::string latency_from;                  // --latency-from FIELD: latency from this integer field (ns since
                                               // the epoch, e.g. a publisher's send time in a published message's
                                               // data) instead of ts; empty: ts
};

struct ParseResult {
    Options options;
    std::optional<int> exit_code;  // set for --help (0) or an error (2); text to print
    std::string text;
};

ParseResult parse_command_line(int argc, char* argv[]);

}  // namespace tickgate::load
