#pragma once
// The two byte streams a session can run on, and how a session starts on one.

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <type_traits>

#include "gateway/auth/access_control.hpp"
#include "gateway/tls_socket.hpp"

namespace tickgate::gateway {

class Worker;
class ConnectionSlot;
class PollingDirectory;
class BroadcastEngine;
enum class Wire : std::uint8_t;

using TlsStream = TlsSocket;

/// The TCP socket under either stream.
template <class Stream>
TcpSocket& socket_of(Stream& s) {
    if constexpr (std::is_same_v<Stream, TlsStream>)
        return s.next_layer();
    else
        return s;
}

/// Starts the WebSocket session on a stream whose upgrade response has been written, on `worker`
/// (the stream's socket belongs to its io_context). `leftover` holds bytes read past the HTTP
/// request; `open_arg` is what Dialect::on_open takes (the ?subscribe= list, or a polling sid).
/// `access` is the server's access control and `identity` what the upgrade request's token proved
/// (an upgrade probe has neither: it takes its polling session's), `engine` where its client's
/// publishes go (a probe takes its polling session's too).
template <class Stream>
void start_websocket_session(Worker& worker, PollingDirectory& polling, Stream stream,
                             std::shared_ptr<boost::asio::ssl::context> tls, ConnectionSlot slot, std::string peer,
                             std::string leftover, std::string open_arg, Wire wire,
                             auth::AccessControl* access = nullptr, std::optional<auth::Identity> identity = {},
                             BroadcastEngine* engine = nullptr);

}  // namespace tickgate::gateway
