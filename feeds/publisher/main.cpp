// tickgate-feed: local feeds -> ring -> NATS (<prefix>.<channel>.<symbol>, bus records), the
// publisher that many gateways (--feed nats://...) subscribe to.
//
//   publisher_config.cpp   flags and --config file into one PublisherConfig
//   publisher.cpp          NATS link, the JetStream stream, seq restore, the publish loop, publish
//                          requests (client messages, one seq per room), metrics
//   feeds/nats_bus.cpp     connection, reconnect backoff, stream and latest-value reads
#include <cstdio>

#include "feeds/publisher/publisher.hpp"
#include "feeds/publisher/publisher_config.hpp"

int main(int argc, char* argv[]) {
    auto parsed = tickgate::publisher::parse_command_line(argc, argv);
    if (parsed.exit_code) {
        std::fputs(parsed.text.c_str(), *parsed.exit_code == 0 ? stdout : stderr);
        if (*parsed.exit_code != 0) std::fputc('\n', stderr);
        return *parsed.exit_code;
    }
    tickgate::publisher::Publisher publisher(std::move(parsed.config));
    return publisher.run();
}
