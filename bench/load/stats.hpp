#pragma once
// What one worker thread counts. Written by that thread only (no atomics on the hot path);
// copied out under a mutex a few times a second for progress, and merged at the end.

#include <cstdint>
#include <map>

#include "bench/load/book_tracker.hpp"
#include "bench/load/histogram.hpp"
#include "bench/load/seq_tracker.hpp"

namespace tickgate::load {

enum ConnectionClass { kNormal = 0, kSlow = 1 };

struct ConnectFailures {
    std::uint64_t connect = 0;   // TCP connect refused / reset / unreachable
    std::uint64_t fd_limit = 0;  // no file descriptor left (EMFILE/ENFILE)
    std::uint64_t no_port = 0;   // no ephemeral port left for a source address (EADDRNOTAVAIL)
    std::uint64_t tls = 0;       // TLS handshake failed
    std::uint64_t upgrade = 0;   // connection closed or garbled during the HTTP upgrade
    std::uint64_t timeout = 0;   // no WebSocket open within the handshake timeout
    std::map<int, std::uint64_t> http_status;  // upgrade refused with this HTTP status (503 at a limit, ...)

    std::uint64_t total() const noexcept {
        std::uint64_t n = connect + fd_limit + no_port + tls + upgrade + timeout;
        for (const auto& [status, count] : http_status) n += count;
        return n;
    }
    void add(const ConnectFailures& o) {
        connect += o.connect;
        fd_limit += o.fd_limit;
        no_port += o.no_port;
        tls += o.tls;
        upgrade += o.upgrade;
        timeout += o.timeout;
        for (const auto& [status, count] : o.http_status) http_status[status] += count;
    }
};

struct ThreadStats {
    // In the measured window only: live updates and their latency (receive time - ts, ns).
    Histogram latency[2];
    std::uint64_t delivered[2] = {};
    std::uint64_t bytes[2] = {};  // WebSocket bytes (frames after TLS) read in the window
    std::uint64_t delivered_books[2] = {};   // of delivered: book deltas (book., book50.)
    std::uint64_t delivered_trades[2] = {};  // of delivered: trades

    // Whole run.
    std::uint64_t received = 0;   // live updates, window or not (progress display)
    Histogram handshake;          // connect start -> 101 Switching Protocols
    Histogram ready;              // connect start -> subscription acknowledged
    std::uint64_t launched = 0;   // connection attempts
    std::uint64_t established = 0;
    std::uint64_t open = 0;       // WebSocket open right now
    std::uint64_t churn_cycles = 0;
    ConnectFailures failures;
    std::map<std::uint16_t, std::uint64_t> disconnects;  // closed by the server or lost (1006), by code
    SeqCounts seq[2];      // tickers (every topic that is not a book or a trade)
    BookCounts books[2];   // book. and book50. topics: chain and checksum
    BookCounts books50[2]; // of those, book50. alone
    SeqCounts trades[2];   // trade. topics: seq + 1 per trade, no snapshots
    std::uint64_t acks = 0, errors = 0, malformed = 0, control = 0;
    std::uint64_t latency_field_missing = 0;  // with --latency-from: window updates without the field (not measured)

    void merge(const ThreadStats& o) {
        for (int c = 0; c < 2; ++c) {
            latency[c].merge(o.latency[c]);
            delivered[c] += o.delivered[c];
            bytes[c] += o.bytes[c];
            seq[c].add(o.seq[c]);
            delivered_books[c] += o.delivered_books[c];
            delivered_trades[c] += o.delivered_trades[c];
            books[c].add(o.books[c]);
            books50[c].add(o.books50[c]);
            trades[c].add(o.trades[c]);
        }
        received += o.received;
        handshake.merge(o.handshake);
        ready.merge(o.ready);
        launched += o.launched;
        established += o.established;
        open += o.open;
        churn_cycles += o.churn_cycles;
        failures.add(o.failures);
        for (const auto& [code, count] : o.disconnects) disconnects[code] += count;
        acks += o.acks;
        errors += o.errors;
        malformed += o.malformed;
        control += o.control;
        latency_field_missing += o.latency_field_missing;
    }
    std::uint64_t disconnect_total() const noexcept {
        std::uint64_t n = 0;
        for (const auto& [code, count] : disconnects) n += count;
        return n;
    }
};

}  // namespace tickgate::load
