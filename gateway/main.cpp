// tickgate: feeds -> ring -> broadcast engine -> per-core workers -> TLS WebSocket clients.
//
// The flow, file by file (gateway/README.md says where everything else is):
//   config.cpp                     flags and --config file into one Config struct
//   server.cpp                     the composition root: builds the parts, start-up and shutdown
//   feeds/*                        simulator, replay and NATS adapters publishing updates into the ring
//   fanout/broadcast_engine.cpp    drains the ring on worker 0, encodes each update once, batches to workers
//   fanout/worker.cpp              one io_context per thread; fans a batch out to its sessions
//   listener.cpp                   accepts and deals connections to workers
//   http/http_session.cpp          TLS handshake, /healthz, /readyz, the /ws and /socket.io/ upgrades
//   auth/access_control.cpp        JWT keys (reloaded on SIGHUP), per-user limits; auth/token_verifier.cpp
//   session/websocket_session.cpp  the WebSocket transport; session/session.cpp and its dialects
//                                  (v1_dialect.cpp, socketio_dialect.cpp): the protocol
#include <csignal>
#include <cstdio>

#include "gateway/config.hpp"
#include "gateway/server.hpp"

int main(int argc, char* argv[]) {
    auto parsed = tickgate::gateway::parse_command_line(argc, argv);
    if (parsed.exit_code) {
        std::fputs(parsed.text.c_str(), *parsed.exit_code == 0 ? stdout : stderr);
        if (*parsed.exit_code != 0) std::fputc('\n', stderr);
        return *parsed.exit_code;
    }
    // A write to a connection the peer has closed raises SIGPIPE unless told otherwise; TLS writes
    // use send(MSG_NOSIGNAL), but other writes (Asio's, on plain sockets) do not, and the error code
    // is what a session acts on.
    std::signal(SIGPIPE, SIG_IGN);
    tickgate::gateway::Server server(std::move(parsed.config));
    return server.run();
}
