// Latest values at gateway start: the JetStream last-per-subject read the gateway does
// (feeds::read_last_values) against the request/reply alternative (a publisher answering one
// request with every topic's latest record in one message), for 100 and 1,000 topics. Starts its
// own nats-server (JetStream, temporary store) on a free loopback port; skipped without one.
#include <benchmark/benchmark.h>
#include <nats/nats.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "bench/sample_update.hpp"
#include "feeds/nats_bus.hpp"
#include "protocol/bus_update.hpp"

namespace tp = tickgate::protocol;
namespace tf = tickgate::feeds;

namespace {

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string topic_name(int i) { return "ticker.SYM" + std::to_string(10000 + i) + "-USD"; }

// One nats-server and one connection for all benchmarks of a topic count.
struct Bus {
    pid_t server = -1;
    std::filesystem::path store;
    natsConnection* nc = nullptr;
    natsSubscription* responder = nullptr;
    std::string snapshot;  // the request/reply answer: (subject length, subject, record) per topic

    explicit Bus(int topics) {
        const int port = free_port();
        store = std::filesystem::temp_directory_path() / ("tickgate-bench-nats-" + std::to_string(::getpid()) + "-" +
                                                          std::to_string(topics));
        server = ::fork();
        if (server == 0) {
            const std::string p = std::to_string(port), log = store.string() + ".log";
            ::execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p.c_str(), "-js", "-sd", store.c_str(), "-l",
                     log.c_str(), nullptr);
            // Debian installs it in /usr/sbin, not on an ordinary user's PATH.
            ::execl("/usr/sbin/nats-server", "nats-server", "-a", "127.0.0.1", "-p", p.c_str(), "-js", "-sd",
                    store.c_str(), "-l", log.c_str(), nullptr);
            std::_Exit(127);
        }
        const std::string url = "nats://127.0.0.1:" + std::to_string(port);
        for (int i = 0; i < 200 && natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!nc) return;
        tf::StreamEnsured ensured;
        std::string error;
        tf::ensure_last_value_stream(nc, tf::stream_name_for_prefix("md"), "md", {}, ensured, error);
        std::array<std::byte, tp::kBusUpdateSize> record;
        auto u = tickgate::bench::sample_update();
        for (int i = 0; i < topics; ++i) {
            const std::string subject = "md." + topic_name(i);
            tp::encode_bus_update(u, record.data());
            natsConnection_Publish(nc, subject.c_str(), record.data(), static_cast<int>(record.size()));
            snapshot += static_cast<char>(subject.size());
            snapshot += subject;
            snapshot.append(reinterpret_cast<const char*>(record.data()), record.size());
        }
        natsConnection_Flush(nc);
        natsConnection_Subscribe(&responder, nc, "md_snapshot", on_request, this);
        natsConnection_Flush(nc);
    }

    static void on_request(natsConnection* nc, natsSubscription*, natsMsg* msg, void* self) {
        const auto& s = static_cast<Bus*>(self)->snapshot;
        natsConnection_Publish(nc, natsMsg_GetReply(msg), s.data(), static_cast<int>(s.size()));
        natsMsg_Destroy(msg);
    }

    ~Bus() {
        if (responder) natsSubscription_Destroy(responder);
        if (nc) natsConnection_Destroy(nc);
        if (server > 0) {
            ::kill(server, SIGTERM);
            ::waitpid(server, nullptr, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(store, ec);
        std::filesystem::remove(store.string() + ".log", ec);
    }
};

Bus& bus(int topics) {
    static Bus b100(100), b1000(1000);
    return topics == 100 ? b100 : b1000;
}

void BM_LatestValues_JetStream(benchmark::State& state) {
    Bus& b = bus(static_cast<int>(state.range(0)));
    if (!b.nc) return state.SkipWithError("no nats-server");
    std::size_t decoded = 0;
    for (auto _ : state) {
        std::size_t count = 0;
        std::string error;
        tf::read_last_values(
            b.nc, "md.>", std::chrono::seconds(10),
            [&](std::string_view, std::string_view data) {
                tickgate::protocol::MarketUpdate u;
                decoded += tp::decode_bus_update(data, u) == tp::BusDecodeError::none;
            },
            count, error);
        if (count != static_cast<std::size_t>(state.range(0))) return state.SkipWithError(("short read: " + error).c_str());
    }
    benchmark::DoNotOptimize(decoded);
}
BENCHMARK(BM_LatestValues_JetStream)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LatestValues_RequestReply(benchmark::State& state) {
    Bus& b = bus(static_cast<int>(state.range(0)));
    if (!b.nc) return state.SkipWithError("no nats-server");
    std::size_t decoded = 0;
    for (auto _ : state) {
        natsMsg* reply = nullptr;
        if (natsConnection_RequestString(&reply, b.nc, "md_snapshot", "", 5000) != NATS_OK)
            return state.SkipWithError("no reply");
        std::string_view data(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
        while (!data.empty()) {
            const auto n = static_cast<unsigned char>(data[0]);
            tickgate::protocol::MarketUpdate u;
            decoded += tp::decode_bus_update(data.substr(1 + n, tp::kBusUpdateSize), u) == tp::BusDecodeError::none;
            data.remove_prefix(1 + n + tp::kBusUpdateSize);
        }
        natsMsg_Destroy(reply);
    }
    benchmark::DoNotOptimize(decoded);
}
BENCHMARK(BM_LatestValues_RequestReply)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
