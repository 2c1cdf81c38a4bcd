// NatsEventLoop with two writing threads, the way the publisher drives it: a thread that publishes
// in WriteBatches and writes them itself, and the loop thread, which nats.c's ping timer makes write
// its PINGs. Each may find the other has already written everything. nats.c's write of an empty
// buffer is a send() of 0 bytes, which it takes for a closed connection: the publisher then
// reconnected every minute or two at 10,000 updates/s and its updates arrived ~150 ms late. A
// ping every 2 ms makes the two threads meet hundreds of times a second; a real nats-server.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "feeds/nats_event_loop.hpp"
#include "tests/feeds/nats_processes.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using tickgate::feeds::testing::NatsServer;

void count_disconnect(natsConnection*, void* closure) { static_cast<std::atomic<int>*>(closure)->fetch_add(1); }

void count_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    static_cast<std::atomic<long>*>(closure)->fetch_add(1);
    natsMsg_Destroy(msg);
}

TEST(NatsEventLoopWrites, APublisherThreadAndThePingTimerWritingTogetherNeverDropTheConnection) {
    NatsServer nats;
    ASSERT_TRUE(nats.wait_ready());
    const std::string url = "nats://" + nats.servers();

    // The receiving side: an ordinary nats.c connection with its own threads.
    natsConnection* reader = nullptr;
    natsSubscription* sub = nullptr;
    std::atomic<long> received{0};
    ASSERT_EQ(natsConnection_ConnectTo(&reader, url.c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_Subscribe(&sub, reader, "loop.test", count_message, &received), NATS_OK);
    // Never a slow consumer: a count short of what was published must mean the publisher lost it.
    ASSERT_EQ(natsSubscription_SetPendingLimits(sub, -1, -1), NATS_OK);
    ASSERT_EQ(natsConnection_FlushTimeout(reader, 2000), NATS_OK);

    asio::io_context io{1};
    auto work = asio::make_work_guard(io);
    tickgate::feeds::NatsEventLoop loop{io, std::chrono::microseconds(0), [] { return false; }};
    std::thread loop_thread([&] { io.run(); });

    std::atomic<int> disconnects{0};
    natsOptions* opts = nullptr;
    ASSERT_EQ(natsOptions_Create(&opts), NATS_OK);
    ASSERT_EQ(natsOptions_SetURL(opts, url.c_str()), NATS_OK);
    ASSERT_EQ(natsOptions_SetSendAsap(opts, true), NATS_OK);
    ASSERT_EQ(natsOptions_SetPingInterval(opts, 2), NATS_OK);
    ASSERT_EQ(natsOptions_SetMaxPingsOut(opts, 1000), NATS_OK);  // a slow machine is not the point
    ASSERT_EQ(natsOptions_SetMaxReconnect(opts, -1), NATS_OK);
    ASSERT_EQ(natsOptions_SetReconnectWait(opts, 10), NATS_OK);
    ASSERT_EQ(natsOptions_SetDisconnectedCB(opts, count_disconnect, &disconnects), NATS_OK);
    ASSERT_EQ(loop.install(opts), NATS_OK);
    natsConnection* publisher = nullptr;
    ASSERT_EQ(natsConnection_Connect(&publisher, opts), NATS_OK);
    natsOptions_Destroy(opts);

    // Batches of 10 small messages, each written by this thread, for 3 s.
    long published = 0;
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < until) {
        tickgate::feeds::NatsEventLoop::WriteBatch batch(loop);
        for (int i = 0; i < 10; ++i)
            if (natsConnection_PublishString(publisher, "loop.test", "tick") == NATS_OK) ++published;
    }
    EXPECT_EQ(disconnects.load(), 0) << "the publishing connection was dropped while both threads wrote";

    // Everything published reached the reader (through a reconnect, some would have been lost or
    // left in the reconnect buffer).
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (received.load() < published && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_GT(published, 10'000);
    EXPECT_EQ(received.load(), published);

    natsConnection_Close(publisher);
    natsConnection_Destroy(publisher);
    work.reset();
    loop_thread.join();
    natsSubscription_Destroy(sub);
    natsConnection_Close(reader);
    natsConnection_Destroy(reader);
}

}  // namespace
