// tickgate: feeds -> lock-free ring -> broadcast engine -> per-core workers -> TLS WebSocket clients.
//
// The flow, file by file:
//   config.cpp             flags and --config file into one Config struct
//   server.cpp             start-up and shutdown: TLS, feeds, engine, workers, listener, metrics
//   feeds/*                adapters (simulator, replay) publishing TickerUpdates into the ring
//   broadcast_engine.cpp   drains the ring, encodes each update once, hands batches to the workers
//   worker.cpp             one io_context per thread; fans a batch out to its sessions
//   listener.cpp           accepts and deals connections to workers
//   http_session.cpp       TLS handshake, /healthz, /readyz, the /ws upgrade
//   websocket_session.cpp  framing and the single write in flight; session.cpp: the protocol
//   tls_socket.cpp         OpenSSL on the socket itself, buffers released when idle
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
    // OpenSSL writes TLS records with write(2), which raises SIGPIPE when a client has gone;
    // the error code is what the session acts on.
    std::signal(SIGPIPE, SIG_IGN);
    tickgate::gateway::Server server(std::move(parsed.config));
    return server.run();
}
