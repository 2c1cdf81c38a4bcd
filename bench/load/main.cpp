// tickgate-load: many WebSocket clients against a tickgate (or a peer server), measuring what they
// receive and what it costs the server. See README.md in this folder.
//
//   options.cpp      flags into one Options struct
//   runner.cpp       set-up, ramp, measured window, shutdown, result
//   worker.cpp       one io_context per thread, paced connection launches
//   connection.cpp   one client: connect, TLS, upgrade, subscribe, read and account
//   update_scan.cpp, seq_tracker.cpp, histogram.cpp, client_frame.cpp, upgrade.cpp, socketio.cpp: pure parts
//   result_json.cpp  the JSON result and the human summary
#include <cstdio>

#include "bench/load/options.hpp"
#include "bench/load/runner.hpp"

int main(int argc, char* argv[]) {
    auto parsed = tickgate::load::parse_command_line(argc, argv);
    if (parsed.exit_code) {
        std::fputs(parsed.text.c_str(), *parsed.exit_code == 0 ? stdout : stderr);
        std::fputc('\n', *parsed.exit_code == 0 ? stdout : stderr);
        return *parsed.exit_code;
    }
    return tickgate::load::run_load(parsed.options);
}
