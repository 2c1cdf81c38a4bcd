#pragma once
// The WebSocket side of an Engine.IO upgrade from long-polling: a WebSocket opened with the sid of
// a polling session is a probe. It claims that session ("2probe" / "3probe"; the polling session
// answers its held GET with a noop so the client can switch), and on "5" takes its place
// (Session::adopt): same worker, same point in the update stream, nothing lost or sent twice.
// The WebSocket connection was moved to the owner's worker before this starts (http/polling_routes).

#include <memory>
#include <string_view>

namespace tickgate::gateway {

class Session;
class PollingSession;

class PollingUpgrade {
public:
    explicit PollingUpgrade(Session& probe) : probe_(probe) {}
    ~PollingUpgrade() { abandon(); }
    PollingUpgrade(const PollingUpgrade&) = delete;
    PollingUpgrade& operator=(const PollingUpgrade&) = delete;

    /// Claims polling session `sid`: false when none lives on this worker, it is closing, or it
    /// has a probe already (one probe per session).
    bool begin(std::string_view sid);
    bool active() const noexcept { return active_; }
    /// The probe answered "2probe" with "3probe".
    void probe_answered();
    /// The polling session still lives and is open.
    bool target_open() const;
    /// The client's "5" (target_open() holds): the probe becomes the polling session, which ends.
    void complete();
    /// The probe ends without upgrading: the client keeps polling, and GETs are held again.
    void abandon();

private:
    Session& probe_;
    std::weak_ptr<PollingSession> polling_;
    bool active_ = false;
};

}  // namespace tickgate::gateway
