#pragma once
// A session with no socket: what it would write is kept as a list of frames, so the dialects and
// the session's rules are tested through the same calls a transport makes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/model/market_update.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/session/polling_directory.hpp"
#include "gateway/session/session.hpp"
#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway::session_test {

struct SentFrame {
    protocol::Opcode opcode;
    std::string payload;
};

/// Server frames (unmasked, whole) as opcode and payload.
inline std::vector<SentFrame> split_frames(std::string_view bytes) {
    std::vector<SentFrame> out;
    protocol::ServerFrame frame;
    while (protocol::take_server_frame(bytes, frame)) out.push_back({frame.opcode, std::string(frame.payload)});
    return out;
}

class CapturingSession final : public Session {
public:
    CapturingSession(Worker& worker, PollingDirectory& polling, Wire wire, std::string peer = "127.0.0.1:5000")
        : Session(worker, polling, std::move(peer), wire) {}

    void flush() override {
        if (queue().empty()) return;
        std::string bytes;
        queue().take(bytes);
        for (auto& f : split_frames(bytes)) sent.push_back(std::move(f));
    }

    void open(std::string_view arg = {}) {
        on_open(arg);
        flush();
    }
    void receive(std::string_view text) {
        note_activity();
        on_text(text);
        flush();
    }
    void receive_binary() {
        on_binary();
        flush();
    }
    /// The text payloads sent since the last call.
    std::vector<std::string> texts() {
        std::vector<std::string> out;
        for (auto& f : sent)
            if (f.opcode == protocol::Opcode::text) out.push_back(f.payload);
        sent.clear();
        return out;
    }
    /// The transport's end without any close (a TCP reset): the socket is done, the worker lets go.
    void lose_connection() {
        mark_closed();
        worker().detach(*this);
    }
    bool closing() const { return state_ != State::open; }
    std::uint16_t close_code() const { return close_code_; }

    std::vector<SentFrame> sent;

private:
    void on_closing() override {}
};

/// For sessions that never poll.
inline PollingDirectory no_polling;

/// A session that a worker on its own thread writes to: what it would have written to its socket,
/// kept for the test thread (flush() runs on the worker's thread).
class RecordingSession final : public Session {
public:
    RecordingSession(Worker& worker, Wire wire, std::string peer = "127.0.0.1:1")
        : Session(worker, no_polling, std::move(peer), wire) {}
    RecordingSession(Worker& worker, std::string peer) : RecordingSession(worker, Wire::v1, std::move(peer)) {}
    void flush() override {
        std::string out;
        queue().take(out);
        std::lock_guard lock(mutex_);
        sent_ += out;
    }
    void on_closing() override {}

    /// Payloads of the text frames sent so far (pings and other control frames left out).
    std::vector<std::string> texts() const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (auto& f : split_frames(sent_))
            if (f.opcode == protocol::Opcode::text) out.push_back(std::move(f.payload));
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::string sent_;
};

/// Waits (bounded) until `done` holds; returns whether it did.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    for (const auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(std::chrono::milliseconds(1)))
        if (done()) return true;
    return done();
}

/// A worker (never started: tests run its handlers themselves) with topics and latest values.
class SessionTest : public ::testing::Test {
protected:
    SessionTest() { config.client_rate = 5; }

    /// Makes the topic known, with a latest value for snapshots.
    void publish(std::uint32_t id, std::string_view topic, std::uint64_t seq) {
        protocol::MarketUpdate u;
        u.set_topic(topic);
        u.seq = seq;
        u.ts_ns = 1764090000000000000 + static_cast<std::int64_t>(seq);
        u.price_decimals = 2;
        u.size_decimals = 4;
        u.bid = 6499950;
        u.ask = 6500000;
        worker.registry().ensure_topic(id, topic);
        worker.registry().store_latest(id, u);
    }
    std::shared_ptr<CapturingSession> make(Wire wire) {
        auto s = std::make_shared<CapturingSession>(worker, polling, wire);
        worker.attach(s);
        return s;
    }

    Config config;
    Worker worker{0, config};
    PollingDirectory polling;
};

}  // namespace tickgate::gateway::session_test
