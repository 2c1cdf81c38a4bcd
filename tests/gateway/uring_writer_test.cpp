// The io_uring batch writer on real loopback TCP: short sends, peers that go away mid-batch, a
// session closing while its send is in flight, and thousands of sessions closing in a burst.
// Every wait is bounded by a deadline on the io_context; only the timing test sleeps, standing
// for the rest of a worker's pass.
#include "gateway/uring_writer.hpp"

#include "feeds/runtime/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "tests/gateway/byte_pattern.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tickgate::gateway {
namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string pattern(std::size_t size, unsigned seed) { return testing::byte_pattern(size, seed); }

struct Sink final : UringSink {
    std::vector<int> results;
    std::vector<std::int64_t> done_at;
    std::function<void(int)> then;
    void on_sent(int result, std::int64_t done_ns) override {
        done_at.push_back(done_ns);
        results.push_back(result);
        if (then) then(result);
    }
};

/// One loopback connection: the sending end is a raw descriptor (as a session's socket is to the
/// writer), the receiving end an Asio socket on the test's io_context that collects what arrives.
struct Pair {
    int fd = -1;
    tcp::socket peer;
    std::string received;
    bool eof = false;
    std::array<char, 64 * 1024> buf;

    explicit Pair(asio::io_context& io) : peer(io) {}
    ~Pair() {
        if (fd >= 0) ::close(fd);
    }
    void read() {
        peer.async_read_some(asio::buffer(buf), [this](boost::system::error_code ec, std::size_t n) {
            received.append(buf.data(), n);
            if (ec) {
                eof = true;
                return;
            }
            read();
        });
    }
    void close_sender() {  // what a session does: shutdown, then close
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
        fd = -1;
    }
};

class UringWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (const auto why = io_uring_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
        std::string error;
        writer = UringWriter::create(io, 8192, error);
        ASSERT_TRUE(writer) << error;
        acceptor.open(tcp::v4());
        acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
        acceptor.listen(4096);
    }

    std::unique_ptr<Pair> connect(int sndbuf = 0) {
        auto p = std::make_unique<Pair>(io);
        tcp::socket client(io);
        client.connect(acceptor.local_endpoint());
        acceptor.accept(p->peer);
        if (sndbuf > 0) ::setsockopt(client.native_handle(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        p->fd = client.release();
        return p;
    }

    /// Runs the io_context until `done` holds or 10 s pass.
    bool run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_for(20ms);
        }
        return done();
    }

    asio::io_context io{1};
    std::unique_ptr<UringWriter> writer;
    tcp::acceptor acceptor{io};
};

TEST_F(UringWriterTest, ShortSendsAreResubmittedUntilEveryByteIsOutInOrder) {
    auto p = connect(4096);  // a tiny send buffer: the kernel takes the 1 MiB in many pieces
    const int slot = writer->attach(p->fd);
    ASSERT_GE(slot, 0);
    const std::string data = pattern(1 << 20, 1);
    auto sink = std::make_shared<Sink>();
    writer->send(slot, data.data(), data.size(), sink);
    writer->submit();
    p->read();
    ASSERT_TRUE(run_until([&] { return !sink->results.empty() && p->received.size() >= data.size(); }));
    EXPECT_EQ(sink->results, std::vector<int>{static_cast<int>(data.size())});
    EXPECT_GT(writer->resubmits(), 0u) << "the kernel took 1 MiB in one send: the test did not exercise short sends";
    EXPECT_TRUE(p->received == data) << "bytes lost, repeated or reordered";
    writer->release(slot);
}

TEST_F(UringWriterTest, APassGoesToTheKernelInFewSubmissionsAndEachStreamStaysInOrder) {
    constexpr int kSessions = 200, kRounds = 20;
    std::vector<std::unique_ptr<Pair>> pairs;
    std::vector<int> slots;
    std::vector<std::string> data;
    std::vector<std::shared_ptr<Sink>> sinks;
    for (int i = 0; i < kSessions; ++i) {
        pairs.push_back(connect());
        slots.push_back(writer->attach(pairs.back()->fd));
        ASSERT_GE(slots.back(), 0);
        data.push_back(pattern(300 * kRounds, static_cast<unsigned>(i)));
        sinks.push_back(std::make_shared<Sink>());
        pairs.back()->read();
    }
    // Round r sends bytes [300r, 300r + 300) of every session; the next round waits for the
    // completion of the last, as a session's next write waits for its write in flight.
    std::vector<int> round(kSessions, 0);
    for (int i = 0; i < kSessions; ++i) {
        sinks[i]->then = [&, i](int result) {
            if (result < 0 || ++round[i] == kRounds) return;
            writer->send(slots[i], data[i].data() + 300 * round[i], 300, sinks[i]);
        };
        writer->send(slots[i], data[i].data(), 300, sinks[i]);
    }
    // The first round's 200 sends went to the kernel 32 at a time (kSubmitEvery) as they were
    // prepared; the last 8 wait for the submit.
    EXPECT_EQ(writer->submissions(), static_cast<std::uint64_t>(kSessions / 32));
    EXPECT_EQ(writer->sends(), static_cast<std::uint64_t>(kSessions / 32 * 32));
    const auto before = writer->submissions();
    writer->submit();
    EXPECT_GE(writer->sends(), static_cast<std::uint64_t>(kSessions));
    ASSERT_TRUE(run_until([&] {
        for (int i = 0; i < kSessions; ++i)
            if (pairs[i]->received.size() < data[i].size()) return false;
        return true;
    }));
    for (int i = 0; i < kSessions; ++i) {
        EXPECT_TRUE(pairs[i]->received == data[i]) << "session " << i;
        for (int r : sinks[i]->results) EXPECT_EQ(r, 300);
    }
    // Far fewer kernel calls than sends: the point of the batch.
    EXPECT_LT(writer->submissions() - before, static_cast<std::uint64_t>(kSessions * kRounds / 10));
    EXPECT_EQ(writer->sends(), static_cast<std::uint64_t>(kSessions * kRounds));
}

TEST_F(UringWriterTest, ASendIsTimedAtTheSubmitThatCarriedItNotWhenThePassEndsAndTakesItsCompletion) {
    // 64 sessions: the first 32 go to the kernel as the 32nd is prepared (kSubmitEvery), then the
    // pass goes on for 30 ms before the last 32 and the submit that takes every completion.
    constexpr int kSessions = 64;
    std::vector<std::unique_ptr<Pair>> pairs;
    std::vector<int> slots;
    std::vector<std::shared_ptr<Sink>> sinks;
    const std::string data = pattern(300, 7);
    for (int i = 0; i < kSessions; ++i) {
        pairs.push_back(connect());
        slots.push_back(writer->attach(pairs.back()->fd));
        ASSERT_GE(slots.back(), 0);
        sinks.push_back(std::make_shared<Sink>());
        pairs.back()->read();
    }
    const std::int64_t start_ns = runtime::realtime_ns();
    for (int i = 0; i < kSessions / 2; ++i) writer->send(slots[i], data.data(), data.size(), sinks[i]);
    ASSERT_EQ(writer->submissions(), 1u);
    std::this_thread::sleep_for(30ms);
    const std::int64_t late_ns = runtime::realtime_ns();
    for (int i = kSessions / 2; i < kSessions; ++i) writer->send(slots[i], data.data(), data.size(), sinks[i]);
    writer->submit();
    ASSERT_TRUE(run_until([&] {
        for (const auto& s : sinks)
            if (s->results.empty()) return false;
        return true;
    }));
    for (int i = 0; i < kSessions; ++i) {
        ASSERT_EQ(sinks[i]->results, std::vector<int>{300}) << "session " << i;
        const std::int64_t t = sinks[i]->done_at.front();
        if (i < kSessions / 2) {
            EXPECT_GE(t, start_ns) << "session " << i;
            EXPECT_LT(t, late_ns) << "session " << i << ": timed when the pass took its completion, "
                                  << (t - start_ns) / 1000 << " us after its submit";
        } else {
            EXPECT_GE(t, late_ns) << "session " << i;
        }
    }
    for (int slot : slots) writer->release(slot);
}

TEST_F(UringWriterTest, APeerThatClosesMidBatchFailsAloneAndTheOthersGetEveryByte) {
    constexpr int kSessions = 20, kGone = 7;
    std::vector<std::unique_ptr<Pair>> pairs;
    std::vector<int> slots;
    std::vector<std::shared_ptr<Sink>> sinks;
    const std::string data = pattern(2 << 20, 3);  // more than any socket buffer holds
    for (int i = 0; i < kSessions; ++i) {
        pairs.push_back(connect());
        slots.push_back(writer->attach(pairs.back()->fd));
        ASSERT_GE(slots.back(), 0);
        sinks.push_back(std::make_shared<Sink>());
    }
    // The peer resets its end (SO_LINGER 0) with the batch prepared but not submitted.
    for (int i = 0; i < kSessions; ++i) writer->send(slots[i], data.data(), data.size(), sinks[i]);
    linger reset{1, 0};
    ::setsockopt(pairs[kGone]->peer.native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    pairs[kGone]->peer.close();
    writer->submit();
    for (int i = 0; i < kSessions; ++i)
        if (i != kGone) pairs[i]->read();
    ASSERT_TRUE(run_until([&] {
        for (const auto& s : sinks)
            if (s->results.empty()) return false;
        for (int i = 0; i < kSessions; ++i)
            if (i != kGone && pairs[i]->received.size() < data.size()) return false;
        return true;
    }));
    ASSERT_EQ(sinks[kGone]->results.size(), 1u);
    EXPECT_TRUE(sinks[kGone]->results[0] == -ECONNRESET || sinks[kGone]->results[0] == -EPIPE)
        << sinks[kGone]->results[0];
    for (int i = 0; i < kSessions; ++i) {
        if (i == kGone) continue;
        EXPECT_EQ(sinks[i]->results, std::vector<int>{static_cast<int>(data.size())}) << i;
        EXPECT_TRUE(pairs[i]->received == data) << i;
    }
}

TEST_F(UringWriterTest, ASendInFlightAtCloseNeverReachesTheConnectionThatReusesTheDescriptor) {
    auto old_pair = connect(4096);
    const int old_fd = old_pair->fd;
    const int slot = writer->attach(old_fd);
    ASSERT_GE(slot, 0);
    // The peer does not read: the send stays in flight in the kernel.
    const std::string data = pattern(8 << 20, 4);
    auto sink = std::make_shared<Sink>();
    writer->send(slot, data.data(), data.size(), sink);
    writer->submit();
    io.restart();
    io.poll();
    ASSERT_TRUE(sink->results.empty()) << "the send finished before the close: nothing was in flight";

    old_pair->close_sender();
    // The next connection gets the lowest free descriptor: the one just closed.
    auto fresh = connect();
    ASSERT_EQ(fresh->fd, old_fd) << "the descriptor was not reused; the test proves nothing";
    fresh->read();
    ASSERT_TRUE(run_until([&] { return !sink->results.empty(); }));
    EXPECT_LT(sink->results[0], 0) << "the send in flight completed after its socket was shut down";
    writer->release(slot);
    // Every send that could have written is complete: whatever reached the new peer is in received.
    io.restart();
    io.poll();
    EXPECT_EQ(fresh->received.size(), 0u) << "bytes of the closed session reached the new connection";
}

TEST_F(UringWriterTest, ThousandsOfSessionsClosingDuringABurstLoseNothingForTheOthers) {
    rlimit lim{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    const int sessions = static_cast<int>(std::min<rlim_t>(3000, (lim.rlim_cur - 64) / 2));
    ASSERT_GE(sessions, 1000) << "open-file limit too low for this test";
    constexpr int kRounds = 10;
    std::vector<std::unique_ptr<Pair>> pairs;
    std::vector<int> slots;
    std::vector<std::string> data;
    std::vector<std::shared_ptr<Sink>> sinks;
    std::vector<int> round(sessions, 0);
    std::vector<bool> closed(sessions, false), released(sessions, false);
    for (int i = 0; i < sessions; ++i) {
        pairs.push_back(connect());
        slots.push_back(writer->attach(pairs.back()->fd));
        ASSERT_GE(slots.back(), 0);
        data.push_back(pattern(400 * kRounds, static_cast<unsigned>(i) + 100));
        sinks.push_back(std::make_shared<Sink>());
        pairs.back()->read();
    }
    auto release = [&](int i) {
        if (!released[i]) writer->release(slots[i]);
        released[i] = true;
    };
    for (int i = 0; i < sessions; ++i) {
        sinks[i]->then = [&, i](int result) {
            if (closed[i] || result < 0) return release(i);  // the slot goes once nothing is in flight
            if (++round[i] == kRounds) return;
            // Every odd session closes half-way, with its next send in flight.
            writer->send(slots[i], data[i].data() + 400 * round[i], 400, sinks[i]);
            if (i % 2 == 1 && round[i] == kRounds / 2) {
                pairs[i]->close_sender();
                closed[i] = true;
            }
        };
        writer->send(slots[i], data[i].data(), 400, sinks[i]);
    }
    writer->submit();
    const bool settled = run_until([&] {
        for (int i = 0; i < sessions; ++i) {
            if (i % 2 == 0 && pairs[i]->received.size() < data[i].size()) return false;
            if (i % 2 == 1 && !(released[i] && pairs[i]->eof)) return false;
        }
        return true;
    });
    int short_streams = 0, unreleased = 0, no_eof = 0;
    for (int i = 0; i < sessions; ++i) {
        short_streams += i % 2 == 0 && pairs[i]->received.size() < data[i].size();
        unreleased += i % 2 == 1 && !released[i];
        no_eof += i % 2 == 1 && !pairs[i]->eof;
    }
    ASSERT_TRUE(settled) << short_streams << " open sessions short of their bytes, " << unreleased
                         << " closed ones with a send never completed, " << no_eof << " peers without end of stream";
    for (int i = 0; i < sessions; ++i) {
        if (i % 2 == 0) {
            EXPECT_TRUE(pairs[i]->received == data[i]) << "session " << i;
        } else {
            // What reached the peer is a prefix of its own stream, never more.
            EXPECT_EQ(data[i].compare(0, pairs[i]->received.size(), pairs[i]->received), 0) << "session " << i;
            EXPECT_LE(pairs[i]->received.size(), static_cast<std::size_t>(400 * (kRounds / 2 + 1)));
        }
    }
    // The freed slots and descriptor numbers serve new connections, which get their bytes only.
    std::vector<std::unique_ptr<Pair>> fresh;
    std::vector<std::shared_ptr<Sink>> fresh_sinks;
    const std::string hello = "hello";
    for (int i = 0; i < sessions / 2; ++i) {
        fresh.push_back(connect());
        const int s = writer->attach(fresh.back()->fd);
        ASSERT_GE(s, 0);
        fresh_sinks.push_back(std::make_shared<Sink>());
        fresh.back()->read();
        writer->send(s, hello.data(), hello.size(), fresh_sinks.back());
    }
    writer->submit();
    ASSERT_TRUE(run_until([&] {
        for (const auto& f : fresh)
            if (f->received.size() < hello.size()) return false;
        return true;
    }));
    io.restart();
    io.poll();
    for (const auto& f : fresh) EXPECT_EQ(f->received, hello);
}

}  // namespace
}  // namespace tickgate::gateway
