#pragma once
// One client connection: TCP (bound to a chosen loopback source), TLS, the upgrade, the
// subscription, then reading and accounting every message. Implemented over TLS and plain TCP.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tickgate::load {

class Worker;

class Connection : public std::enable_shared_from_this<Connection> {
public:
    virtual ~Connection() = default;
    virtual void start() = 0;
    /// Sends close 1000 (if open) and ends the connection soon; what the server says then is not
    /// counted as a disconnect.
    virtual void shut_down() = 0;
    /// Adds this connection's seq counts to the worker's statistics (once).
    virtual void fold_counts() = 0;
    /// The worker's readiness set found the socket readable (see Worker::watch).
    virtual void on_readable() = 0;
    /// The window is over: a stalled reader starts reading (RunContext::draining is set).
    virtual void on_drain() = 0;
    /// Tells this connection's readiness events from those of an earlier one in the same slot.
    virtual std::uint32_t watch_tag() const noexcept = 0;
};

/// `slot` is the connection's place in its worker; `index` its number over the whole run (it
/// selects the topics, the source address and whether it is slow).
std::shared_ptr<Connection> make_connection(Worker& worker, std::size_t slot, std::size_t index);

}  // namespace tickgate::load
