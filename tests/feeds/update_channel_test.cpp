#include "feeds/update_channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace tickgate::feeds {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TickerUpdate update(std::uint64_t seq, std::uint16_t feed = 0) {
    TickerUpdate u;
    u.seq = seq;
    u.feed = feed;
    u.set_topic("ticker.BTC-USD");
    return u;
}

TEST(UpdateChannel, PublishThenConsume) {
    UpdateChannel ch(8);
    std::stop_source stop;
    for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(ch.publish(update(i), stop.get_token()));
    EXPECT_EQ(ch.depth(), 3u);
    std::vector<TickerUpdate> out(8);
    ASSERT_EQ(ch.consume(out, 0ms), 3u);
    EXPECT_EQ(out[0].seq, 1u);
    EXPECT_EQ(out[2].seq, 3u);
    EXPECT_EQ(ch.depth(), 0u);
    EXPECT_EQ(ch.full_events(), 0u);
}

TEST(UpdateChannel, ConsumeTimesOutWithZero) {
    UpdateChannel ch(8);
    std::vector<TickerUpdate> out(8);
    const auto t0 = Clock::now();
    EXPECT_EQ(ch.consume(out, 100ms), 0u);
    const auto waited = Clock::now() - t0;
    EXPECT_GE(waited, 100ms);
    EXPECT_LT(waited, 300ms);
}

TEST(UpdateChannel, ConsumeWakesOnPublish) {
    UpdateChannel ch(8);
    std::vector<TickerUpdate> out(8);
    std::jthread producer([&](std::stop_token st) {
        std::this_thread::sleep_for(50ms);
        ASSERT_TRUE(ch.publish(update(1), st));
    });
    const auto t0 = Clock::now();
    ASSERT_EQ(ch.consume(out, 5000ms), 1u);
    EXPECT_LT(Clock::now() - t0, 1000ms) << "the consumer slept through the publish";
}

TEST(UpdateChannel, WakeConsumerEndsTheWait) {
    UpdateChannel ch(8);
    std::vector<TickerUpdate> out(8);
    std::jthread waker([&] {
        std::this_thread::sleep_for(50ms);
        ch.wake_consumer();
    });
    const auto t0 = Clock::now();
    EXPECT_EQ(ch.consume(out, 5000ms), 0u);
    EXPECT_LT(Clock::now() - t0, 1000ms);
}

TEST(UpdateChannel, WakeBeforeWaitIsNotLost) {
    UpdateChannel ch(8);
    std::vector<TickerUpdate> out(8);
    ch.wake_consumer();  // shutdown signalled just before the consumer starts waiting
    const auto t0 = Clock::now();
    EXPECT_EQ(ch.consume(out, 5000ms), 0u);
    EXPECT_LT(Clock::now() - t0, 1000ms);
}

// Ping-pong: each producer publishes one update and waits for the consumer to acknowledge it
// before the next, with varying pauses so publishes land before, during and after the consumer's
// switch from spinning to sleeping. A lost wake-up leaves the only update in flight unseen, so
// consume() times out, which fails the test.
TEST(UpdateChannel, NoLostWakeUpsUnderStress) {
    UpdateChannel ch(64);
    constexpr int kProducers = 2;
    constexpr int kRounds = 4000;
    std::atomic<int> acked[kProducers]{};
    std::vector<std::jthread> producers;
    for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p](std::stop_token st) {
            for (int n = 1; n <= kRounds && !st.stop_requested(); ++n) {
                const auto pause = std::chrono::microseconds((n * 37 + p * 11) % 60);
                for (const auto until = Clock::now() + pause; Clock::now() < until;) {
                }
                if (!ch.publish(update(n, static_cast<std::uint16_t>(p)), st)) return;
                while (acked[p].load() < n && !st.stop_requested()) std::this_thread::yield();
            }
        });
    }
    std::vector<TickerUpdate> out(16);
    std::uint64_t next[kProducers] = {1, 1};
    int received = 0;
    while (received < kProducers * kRounds) {
        const auto t0 = Clock::now();
        const std::size_t n = ch.consume(out, 1000ms);
        // A producer is always about to publish or has just published, so waiting anywhere near the
        // timeout means the consumer slept through a publish.
        if (n == 0 || Clock::now() - t0 > 500ms) {
            for (auto& t : producers) t.request_stop();
            FAIL() << "consume waited too long after " << received << " updates: a wake-up was lost";
        }
        for (std::size_t i = 0; i < n; ++i) {
            const TickerUpdate& u = out[i];
            ASSERT_EQ(u.seq, next[u.feed]++);
            acked[u.feed].store(static_cast<int>(u.seq));
        }
        received += static_cast<int>(n);
    }
}

TEST(UpdateChannel, FullRingBlocksProducerAndCountsOncePerPublish) {
    UpdateChannel ch(4);
    std::stop_source stop;
    for (std::uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(ch.publish(update(i), stop.get_token()));
    std::atomic<bool> done{false};
    std::jthread producer([&](std::stop_token st) {
        EXPECT_TRUE(ch.publish(update(5), st));
        done = true;
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(done) << "publish must wait while the ring is full";
    EXPECT_EQ(ch.full_events(), 1u) << "one full event per blocked publish, however long it waits";

    std::vector<TickerUpdate> out(2);
    ASSERT_EQ(ch.consume(out, 0ms), 2u);
    producer.join();
    EXPECT_TRUE(done);
    std::vector<TickerUpdate> rest(8);
    ASSERT_EQ(ch.consume(rest, 0ms), 3u);
    EXPECT_EQ(rest[2].seq, 5u);
    EXPECT_EQ(ch.full_events(), 1u);
}

TEST(UpdateChannel, StopWhileBlockedReturnsFalse) {
    UpdateChannel ch(2);
    std::stop_source never;
    ASSERT_TRUE(ch.publish(update(1), never.get_token()));
    ASSERT_TRUE(ch.publish(update(2), never.get_token()));
    std::atomic<int> result{-1};
    std::jthread producer([&](std::stop_token st) { result = ch.publish(update(3), st) ? 1 : 0; });
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(result, -1);
    const auto t0 = Clock::now();
    producer.request_stop();
    producer.join();
    EXPECT_LT(Clock::now() - t0, 100ms);
    EXPECT_EQ(result, 0);
    EXPECT_EQ(ch.depth(), 2u) << "the update must not be published after a stop";
}

}  // namespace
}  // namespace tickgate::feeds
