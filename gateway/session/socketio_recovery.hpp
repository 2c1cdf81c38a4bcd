#pragma once
// Socket.IO connection state recovery for one session, the server side of Socket.IO 4.6+
// (protocol/README.md, "Connection state recovery"). With --socketio-recovery-ms:
// - the CONNECT reply carries a pid, and every live event its message offset as a last argument
//   (subscription_registry.cpp), which socket.io-client keeps;
// - a session whose connection ends without the client's DISCONNECT is kept under its pid
//   (recovery_store.hpp);
// - a reconnecting client's CONNECT brings {pid, offset}. When the kept session is found in time,
//   for the same token sub, every entry is still allowed and the history (topic_history.hpp)
//   holds every message after the offset of every topic it covers, the answer is the same pid,
//   the subscriptions back and the missed events in offset order, then live ones: recovered.
//   When only the history falls short, the subscriptions come back with their snapshots under a
//   new pid. Otherwise (unknown or expired pid, another sub, an entry no longer allowed) the
//   session starts afresh under a new pid.
// Thread-confined to the session's worker, like the session.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/fanout/topic_history.hpp"
#include "gateway/session/recovery_store.hpp"
#include "protocol/socketio.hpp"

namespace tickgate::gateway {

class Session;

class SocketIoRecovery {
public:
    explicit SocketIoRecovery(Session& session);

    /// --socketio-recovery-ms is set (it needs --history).
    bool enabled() const noexcept { return store_ != nullptr; }

    enum class Outcome { fresh, restored, recovered };
    /// At an accepted CONNECT, before its reply: takes the kept session the client claims, if
    /// any, and decides. The pid to answer with is pid() afterwards.
    Outcome on_connect(const std::optional<protocol::socketio::RecoveryClaim>& claim);
    const std::string& pid() const noexcept { return pid_; }
    /// After the CONNECT reply and the welcome: the kept subscriptions, then the missed events
    /// (recovered) or the snapshots (restored). Nothing for a fresh session.
    void restore();

    /// Runs a client request, noting when the session came to cover each topic it covers anew.
    template <typename Run>
    void tracking_coverage(Run&& run) {
        if (!enabled()) return run();
        auto before = covered_topics();
        run();
        note_coverage(std::move(before));
    }

    /// The session ends with its subscriptions still held: it is kept for recovery when
    /// `recoverable` (not the client's own DISCONNECT, a malformed packet, a refusal).
    void on_end(bool recoverable);
    /// A polling session's upgrade: the WebSocket session takes its pid and notes over.
    void adopt(SocketIoRecovery& from);

private:
    std::vector<std::uint32_t> covered_topics() const;
    void note_coverage(std::vector<std::uint32_t> before);
    /// The replay of every topic `kept` covers on this worker after `offset`; false when the
    /// history does not reach back for one of them.
    bool plan_replay(const KeptSession& kept, std::uint64_t offset);
    bool still_allowed(const KeptSession& kept) const;
    void restore_recovered();
    void restore_with_snapshots();

    Session& session_;
    RecoveryStore* const store_;
    std::string pid_;  // given in the CONNECT reply; empty before it, and once kept or handed over
    // Topic id -> its last offset on this worker when this session came to cover it (by a
    // subscribe); a topic a pattern came to cover as it appeared has none (it started at 0).
    std::unordered_map<std::uint32_t, std::uint64_t> covered_from_;
    Outcome outcome_ = Outcome::fresh;
    std::optional<KeptSession> kept_;                                // what restore() brings back
    std::vector<std::pair<std::uint32_t, HistoryEntry>> replay_;     // (topic id, entry), in offset order
};

}  // namespace tickgate::gateway
