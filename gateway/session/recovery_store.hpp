#pragma once
// Socket.IO connection state recovery (protocol/README.md, "Connection state recovery"): the
// sessions whose connection ended without the client's DISCONNECT, kept for
// --socketio-recovery-ms under the private id (pid) their client holds, so that the client,
// reconnecting to any worker, gets its subscriptions and the events it missed back
// (socketio_recovery.cpp).
//
// Shared by all workers under one mutex: a session ends or recovers rarely compared with the
// messages it is sent. Bounded: expired sessions go on every call, and past `max_sessions` the
// oldest goes first.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tickgate::gateway {

/// What a recovery restores of a session.
struct KeptSession {
    std::string sub;                   // the token's sub; empty without one
    std::vector<std::string> entries;  // exact topics, patterns and rooms, as held
    // (topic id, offset): the topic's last offset on the session's worker when the session came
    // to cover it. A client whose last event is older has missed nothing of the topic before that.
    std::vector<std::pair<std::uint32_t, std::uint64_t>> covered_from;
};

class RecoveryStore {
public:
    RecoveryStore(std::int64_t window_ms, std::size_t max_sessions);

    /// A fresh pid: 128 bits from OpenSSL's generator (a pid is a bearer secret), as 32 hex digits.
    static std::string new_pid();

    /// Any thread. Keeps `session` under `pid` until now + the window (replacing what `pid` held).
    void keep(std::string pid, KeptSession session, std::int64_t now_ns);
    /// Any thread. Removes and returns what `pid` holds, unless it is unknown or expired: a pid
    /// recovers once.
    std::optional<KeptSession> take(std::string_view pid, std::int64_t now_ns);

    /// How a CONNECT with a claim (pid and offset) ended: recovered (same pid, missed events),
    /// restored (the subscriptions with snapshots: the history fell short), refused (a fresh
    /// session: pid unknown or expired, another sub, an entry no longer allowed).
    enum class Outcome { recovered, restored, refused };
    void count(Outcome outcome);

    std::size_t size() const;
    struct Counts {
        std::uint64_t kept = 0;     // sessions kept at their end
        std::uint64_t taken = 0;    // found by a reconnecting client in time
        std::uint64_t expired = 0;  // not claimed within the window
        std::uint64_t evicted = 0;  // pushed out by max_sessions
        std::uint64_t recovered = 0, restored = 0, refused = 0;  // see Outcome
    };
    Counts counts() const;

private:
    struct Kept {
        KeptSession session;
        std::int64_t expires_ns = 0;
    };
    void expire_locked(std::int64_t now_ns);
    /// Drops the front of `order_`, and its session when that record is still its current one.
    bool pop_oldest_locked(std::uint64_t& counter);

    const std::int64_t window_ns_;
    const std::size_t max_sessions_;
    mutable std::mutex mutex_;
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, Kept, Hash, std::equal_to<>> sessions_;
    // (expiry, pid) in the order kept, which with one window is the order of expiry. A record whose
    // pid was taken, or kept again later, no longer matches its session's expiry and is skipped.
    std::deque<std::pair<std::int64_t, std::string>> order_;
    Counts counts_;
};

}  // namespace tickgate::gateway
