#pragma once
// Where a Socket.IO long-polling request goes: the Origin check, CORS preflights, the handshake
// (admission, a new PollingSession on this worker), and every later request to the worker that owns
// its sid. Also the WebSocket that upgrades a polling session, moved to the owner's worker.

#include <memory>
#include <string>
#include <string_view>

#include "gateway/session/polling_session.hpp"

namespace boost::asio::ssl {
class context;
}

namespace tickgate::gateway {

class Worker;
class ConnectionSlot;
struct ConnectionContext;

/// Serves one long-polling request (or preflight) that arrived on a connection of `here`.
/// Worker thread of `here` only.
void serve_polling_request(Worker& here, ConnectionContext& context, PollingRequest request, PollingReply reply);

/// A WebSocket whose upgrade response is written, for polling session `sid`: continues on the
/// worker that owns the session (the socket moves to that worker's io_context when it is another
/// one) as a probing WebSocket session. Worker thread of `here` only.
template <class Stream>
void continue_polling_upgrade(Worker& here, PollingDirectory& polling, Stream stream,
                              std::shared_ptr<boost::asio::ssl::context> tls, ConnectionSlot slot, std::string peer,
                              std::string leftover, std::string sid);

}  // namespace tickgate::gateway
