// The NATS feed hosted on the ring consumer's own event loop (--nats-reader worker): the thread that
// reads NATS is the one that drains the ring, so the reader must never wait for room in the ring
// (nothing would make any). A real nats-server, a burst far larger than the ring, and a consumer on
// that loop that drains slowly: every update must arrive, in order, with the reader having let the
// consumer catch up instead of blocking the loop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "feeds/feed_adapter.hpp"
#include "feeds/nats_feed.hpp"
#include "feeds/update_channel.hpp"
#include "feeds/upstream_stats.hpp"
#include "protocol/bus_update.hpp"
#include "tests/feeds/nats_processes.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using tickgate::feeds::testing::connect_to;
using tickgate::feeds::testing::NatsServer;

// Publishes `n` v1 ticker records of md.ticker.BTC-USD with seq 1..n in one write, then PING, and
// waits for the PONG: nats-server has taken them all.
bool publish_burst(int port, int n) {
    const int fd = connect_to(port);
    if (fd < 0) return false;
    std::string out = "CONNECT {\"verbose\":false}\r\n";
    for (int seq = 1; seq <= n; ++seq) {
        tickgate::protocol::MarketUpdate u;
        u.seq = static_cast<std::uint64_t>(seq);
        u.ts_ns = 1;
        std::array<std::byte, tickgate::protocol::kBusUpdateSize> record{};
        tickgate::protocol::encode_bus_update(u, record.data());
        out += "PUB md.ticker.BTC-USD 100\r\n";
        out.append(reinterpret_cast<const char*>(record.data()), record.size());
        out += "\r\n";
    }
    out += "PING\r\n";
    for (std::size_t sent = 0; sent < out.size();) {
        const auto w = ::write(fd, out.data() + sent, out.size() - sent);
        if (w <= 0) return ::close(fd), false;
        sent += static_cast<std::size_t>(w);
    }
    std::string in;
    char buf[4096];
    while (in.find("PONG") == std::string::npos) {
        const auto r = ::read(fd, buf, sizeof buf);
        if (r <= 0) return ::close(fd), false;
        in.append(buf, static_cast<std::size_t>(r));
    }
    ::close(fd);
    return true;
}

}  // namespace

TEST(NatsHostedReader, ABurstBiggerThanTheRingArrivesWholeWhileTheLoopDrainsItSlowly) {
    NatsServer nats;
    ASSERT_TRUE(nats.wait_ready()) << "nats-server (Debian's, /usr/sbin) did not start";
    tickgate::feeds::UpdateChannel channel(1024);  // the reader takes a message while 512 slots are free
    tickgate::feeds::NatsOptions options;
    options.reader = "worker";
    std::string error;
    auto feed = tickgate::feeds::NatsFeed::create("127.0.0.1:" + std::to_string(nats.port()), options, 0, error);
    ASSERT_TRUE(feed) << error;

    // "Worker 0": the loop the feed reads on, which is also the only consumer of the ring. It takes
    // at most 100 updates per 5 ms, far slower than a burst arrives.
    asio::io_context io{1};
    auto work = asio::make_work_guard(io);
    feed->offer_event_loop(io);
    std::vector<std::uint64_t> seqs;
    asio::steady_timer drain(io);
    std::function<void()> take = [&] {
        std::array<tickgate::protocol::MarketUpdate, 100> batch;
        const std::size_t n = channel.try_consume(batch);
        for (std::size_t i = 0; i < n; ++i) seqs.push_back(batch[i].seq);
        drain.expires_after(5ms);
        drain.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) take();
        });
    };
    asio::post(io, take);
    std::thread loop([&] { io.run(); });
    std::jthread reader([&](std::stop_token stop) { feed->run(stop, channel); });

    const auto* stats = feed->upstream_stats();
    for (int i = 0; i < 250 && !stats->connected.load(); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(stats->connected.load()) << "the feed did not connect";
    std::this_thread::sleep_for(200ms);  // its subscription reaches the server
    constexpr int kBurst = 5000;
    ASSERT_TRUE(publish_burst(nats.port(), kBurst));

    std::atomic<std::size_t> got{0};
    for (int i = 0; i < 1000 && got.load() < kBurst; ++i) {
        std::this_thread::sleep_for(20ms);
        asio::post(io, [&] { got.store(seqs.size()); });
    }
    std::vector<std::uint64_t> final_seqs;
    std::promise<void> copied;
    asio::post(io, [&] {
        final_seqs = seqs;
        drain.cancel();
        copied.set_value();
    });
    if (copied.get_future().wait_for(10s) != std::future_status::ready) {
        // The loop never came back: the reader is blocked in it, waiting for room only the loop
        // could make. Nothing here can be joined any more.
        std::fprintf(stderr, "the loop is stuck: the hosted reader waited on the ring it drains itself\n");
        std::_Exit(1);
    }
    reader.request_stop();
    reader.join();  // the feed's teardown runs on the loop, which still runs
    work.reset();
    io.stop();
    loop.join();

    ASSERT_EQ(final_seqs.size(), static_cast<std::size_t>(kBurst)) << "every update of the burst";
    for (std::size_t i = 0; i < final_seqs.size(); ++i) ASSERT_EQ(final_seqs[i], i + 1) << "in order, at " << i;
    EXPECT_GT(stats->ring_waits.get(), 0u) << "the reader waited for the slow consumer instead of blocking the loop";
    EXPECT_EQ(stats->duplicates.get(), 0u);
}
