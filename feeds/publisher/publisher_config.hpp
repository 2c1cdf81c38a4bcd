#pragma once
// tickgate-feed's settings: one struct with its defaults, one parser (flags and an optional
// --config file), the same feed flags, exit codes and --help style as the gateway.

#include <optional>
#include <string>
#include <vector>

#include "feeds/feed_adapter.hpp"
#include "feeds/runtime/endpoint.hpp"

namespace tickgate::publisher {

struct PublisherConfig {
    std::string nats = "nats://127.0.0.1:4222";  // HOST:PORT[,HOST:PORT...], nats:// optional
    std::vector<std::string> nats_urls;          // parsed from `nats`
    std::vector<std::string> feeds{"sim"};       // local feeds only: sim | replay:...
    feeds::SimulatorOptions sim;
    std::string subject_prefix = "md";           // updates go to <prefix>.<channel>.<symbol>
    // 1 until every gateway reads v2 (protocol/README.md, "Rolling upgrade"): a v1 gateway
    // rejects v2 messages, a v2 gateway reads both.
    unsigned bus_version = 1;
    // Batched live subject (bus v2 only): every update also goes, with others, in one message on
    // this subject ("" = none); gateways that read it need not subscribe to the per-topic ones.
    std::string live_subject;
    bool live_batches = false;  // --live-batches: live_subject = <prefix>-live
    // In a burst, updates wait up to this long to go out together (one write, one batch); a
    // publisher that was quiet for longer writes at once. 0: every ring batch at once.
    unsigned flush_window_us = 0;
    // "auto": one simulator alone, without a flush window, runs on the publish thread, which then
    // wakes once per event (not the feed's thread and then its own); "own": every feed on a
    // thread of its own, through the ring.
    std::string feed_thread = "auto";
    // Messages JetStream keeps per subject (--history): 1, the latest values; more, also the
    // history gateways started with --history backfill from (and resume across gateways relies on).
    unsigned history = 1;
    // --stream-storage: "file" (the latest values and history outlive a nats-server restart) or
    // "memory" (they do not; a much shorter p99 on nats-server 2.9, bench/README.md). A stream
    // that exists keeps the storage it has.
    std::string stream_storage = "file";
    runtime::Endpoint metrics_listen{"127.0.0.1", 9465};
    std::string log_level = "info";
};

/// As the gateway's: exit_code 0 with text for --help/--version, 2 with a one-line error.
struct ParseOutcome {
    PublisherConfig config;
    std::optional<int> exit_code;
    std::string text;
};

ParseOutcome parse_command_line(int argc, const char* const argv[]);

}  // namespace tickgate::publisher
