#pragma once
// From an accepted socket to a session: see http_session.cpp.

#include <boost/asio/ssl/context.hpp>

#include <memory>

#include "gateway/tls_socket.hpp"

namespace tickgate::gateway {

class Worker;
class ConnectionSlot;
struct ConnectionContext;

/// Runs a freshly accepted connection on `worker` (its socket already belongs to the worker's
/// io_context): TLS handshake unless `tls` is null, then HTTP, then maybe the WebSocket upgrade.
/// Worker thread only.
void start_connection(Worker& worker, ConnectionContext& context, TcpSocket socket,
                      std::shared_ptr<boost::asio::ssl::context> tls, ConnectionSlot slot);

}  // namespace tickgate::gateway
