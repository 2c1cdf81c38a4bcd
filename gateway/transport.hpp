#pragma once
// The two byte streams a connection can run on, and the hand-off from the listener.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <type_traits>

#include "gateway/tls_socket.hpp"

namespace tickgate::gateway {

class Server;
class Worker;
class ConnectionSlot;
enum class Wire;

using TlsStream = TlsSocket;

/// The TCP socket under either stream.
template <class Stream>
TcpSocket& socket_of(Stream& s) {
    if constexpr (std::is_same_v<Stream, TlsStream>)
        return s.next_layer();
    else
        return s;
}

/// Runs a freshly accepted connection on `worker` (its socket already belongs to the worker's
/// io_context): TLS handshake unless `tls` is null, then HTTP, then maybe the WebSocket upgrade.
/// Worker thread only.
void start_connection(Worker& worker, Server& server, TcpSocket socket, std::shared_ptr<boost::asio::ssl::context> tls,
                      ConnectionSlot slot);

/// Starts the WebSocket session on a stream whose upgrade response has been written.
/// `leftover` holds bytes read past the HTTP request.
template <class Stream>
void start_websocket_session(Worker& worker, Stream stream, std::shared_ptr<boost::asio::ssl::context> tls,
                             ConnectionSlot slot, std::string peer, std::string leftover, std::string subscribe_list,
                             Wire wire);

}  // namespace tickgate::gateway
