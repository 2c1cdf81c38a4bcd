#include "feeds/update_channel.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <set>
#include <thread>
#include <vector>

namespace tickgate::feeds {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

protocol::MarketUpdate update(std::uint64_t seq, std::uint16_t feed = 0) {
    protocol::MarketUpdate u;
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
    std::vector<protocol::MarketUpdate> out(8);
    ASSERT_EQ(ch.consume(out, 0ms), 3u);
    EXPECT_EQ(out[0].seq, 1u);
    EXPECT_EQ(out[2].seq, 3u);
    EXPECT_EQ(ch.depth(), 0u);
    EXPECT_EQ(ch.full_events(), 0u);
}

TEST(UpdateChannel, ConsumeTimesOutWithZero) {
    UpdateChannel ch(8);
    std::vector<protocol::MarketUpdate> out(8);
    const auto t0 = Clock::now();
    EXPECT_EQ(ch.consume(out, 100ms), 0u);
    const auto waited = Clock::now() - t0;
    EXPECT_GE(waited, 100ms);
    EXPECT_LT(waited, 300ms);
}

TEST(UpdateChannel, ConsumeWakesOnPublish) {
    UpdateChannel ch(8);
    std::vector<protocol::MarketUpdate> out(8);
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
    std::vector<protocol::MarketUpdate> out(8);
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
    std::vector<protocol::MarketUpdate> out(8);
    ch.wake_consumer();  // shutdown signalled just before the consumer starts waiting
    const auto t0 = Clock::now();
    EXPECT_EQ(ch.consume(out, 5000ms), 0u);
    EXPECT_LT(Clock::now() - t0, 1000ms);
}

// Ping-pong: each producer publishes one update and waits for the consumer to acknowledge it
// before the next, with varying pauses so publishes land before, during and after the consumer's
// switch from spinning to sleeping. A lost wake-up leaves the only update in flight unseen, so
// consume() times out, which fails the test. With several producers, each one's first publish
// also registers its lane while the consumer may be deciding to sleep.
enum class Sleeper { futex, eventfd };

// The consumer of an event loop (the gateway's worker 0): take what is there, else arm the wake-up
// and sleep in poll(2) on the eventfd, as epoll would. A wake-up can find nothing (a producer saw
// the flag of an arm_wake() that then found an update and did not sleep): sleep again.
std::size_t consume_via_eventfd(UpdateChannel& ch, std::span<protocol::MarketUpdate> out, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (std::size_t n = ch.try_consume(out)) return n;
        if (!ch.arm_wake()) continue;
        pollfd p{ch.wake_fd(), POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) != 1) return 0;
        std::uint64_t count = 0;
        EXPECT_EQ(::read(ch.wake_fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
    }
    return 0;
}

// One producer of the ping-pong: publishes seq 1..rounds as feed `p`, each after a pause that
// varies from round to round, and waits for the consumer to acknowledge it before the next.
void ping_pong_producer(UpdateChannel& ch, std::vector<std::atomic<int>>& acked, int p, int rounds,
                        const std::stop_token& st) {
    for (int n = 1; n <= rounds && !st.stop_requested(); ++n) {
        const auto pause = std::chrono::microseconds((n * 37 + p * 11) % 60);
        for (const auto until = Clock::now() + pause; Clock::now() < until;) {
        }
        if (!ch.publish(update(n, static_cast<std::uint16_t>(p)), st)) return;
        while (acked[static_cast<std::size_t>(p)].load() < n && !st.stop_requested()) std::this_thread::yield();
    }
}

void no_lost_wake_ups(int producer_count, int rounds,
                      UpdateChannel::WakeBarrier barrier = UpdateChannel::WakeBarrier::automatic,
                      Sleeper sleeper = Sleeper::futex) {
    UpdateChannel ch(64, barrier);
    std::vector<std::atomic<int>> acked(static_cast<std::size_t>(producer_count));
    std::vector<std::jthread> producers;
    for (int p = 0; p < producer_count; ++p)
        producers.emplace_back([&, p](std::stop_token st) { ping_pong_producer(ch, acked, p, rounds, st); });
    std::vector<protocol::MarketUpdate> out(16);
    std::vector<std::uint64_t> next(static_cast<std::size_t>(producer_count), 1);
    int received = 0;
    while (received < producer_count * rounds) {
        const auto t0 = Clock::now();
        const std::size_t n =
            sleeper == Sleeper::futex ? ch.consume(out, 1000ms) : consume_via_eventfd(ch, out, 1000ms);
        // A producer is always about to publish or has just published, so waiting anywhere near the
        // timeout means the consumer slept through a publish.
        if (n == 0 || Clock::now() - t0 > 500ms) {
            for (auto& t : producers) t.request_stop();
            FAIL() << "consume waited too long after " << received << " updates: a wake-up was lost";
        }
        for (std::size_t i = 0; i < n; ++i) {
            const protocol::MarketUpdate& u = out[i];
            ASSERT_EQ(u.seq, next[u.feed]++);
            acked[u.feed].store(static_cast<int>(u.seq));
        }
        received += static_cast<int>(n);
    }
}

TEST(UpdateChannel, NoLostWakeUpsUnderStressOneProducer) { no_lost_wake_ups(1, 4000); }
TEST(UpdateChannel, NoLostWakeUpsUnderStress) { no_lost_wake_ups(2, 4000); }
TEST(UpdateChannel, NoLostWakeUpsUnderStressFourProducers) { no_lost_wake_ups(4, 2000); }
// The fallback for kernels without membarrier: a fence on both sides.
TEST(UpdateChannel, NoLostWakeUpsUnderStressWithFences) {
    no_lost_wake_ups(2, 4000, UpdateChannel::WakeBarrier::fences);
}
TEST(UpdateChannel, NoLostWakeUpsSleepingOnTheEventfd) {
    no_lost_wake_ups(2, 4000, UpdateChannel::WakeBarrier::automatic, Sleeper::eventfd);
}
TEST(UpdateChannel, NoLostWakeUpsSleepingOnTheEventfdWithFences) {
    no_lost_wake_ups(2, 4000, UpdateChannel::WakeBarrier::fences, Sleeper::eventfd);
}

TEST(UpdateChannel, ArmWakeRefusesWhileUpdatesWaitAndOnlyAnArmedSleepIsSignalled) {
    UpdateChannel ch(8);
    std::stop_source stop;
    pollfd p{ch.wake_fd(), POLLIN, 0};
    ASSERT_TRUE(ch.publish(update(1), stop.get_token()));
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "nobody was asleep: a publish costs no eventfd write";
    EXPECT_FALSE(ch.arm_wake()) << "an update is waiting: no sleeping";
    std::vector<protocol::MarketUpdate> out(8);
    ASSERT_EQ(ch.try_consume(out), 1u);
    EXPECT_EQ(ch.try_consume(out), 0u);
    ASSERT_TRUE(ch.arm_wake());
    ASSERT_TRUE(ch.publish(update(2), stop.get_token()));
    ASSERT_TRUE(ch.publish(update(3), stop.get_token()));
    ASSERT_EQ(::poll(&p, 1, 1000), 1) << "the publish after arm_wake() wakes the loop";
    std::uint64_t count = 0;
    ASSERT_EQ(::read(ch.wake_fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
    EXPECT_EQ(count, 1u) << "one wake-up per sleep, not one per publish";
    ASSERT_EQ(ch.try_consume(out), 2u);
    EXPECT_EQ(out[1].seq, 3u);
}

// A feed read on the consumer's own event loop (NATS on worker 0): its publishes ask the consumer
// to drain through the callback, not the eventfd, and leave it armed, while a producer on any
// other thread still wakes it through the eventfd.
TEST(UpdateChannel, AProducerOnTheConsumersThreadWakesItThroughItsLoopAndOthersStillThroughTheEventfd) {
    UpdateChannel ch(8);
    std::stop_source stop;
    int wakes = 0;
    ch.set_same_thread_wake([&] { ++wakes; });
    pollfd p{ch.wake_fd(), POLLIN, 0};
    std::vector<protocol::MarketUpdate> out(8);
    ASSERT_EQ(ch.try_consume(out), 0u);
    ASSERT_TRUE(ch.arm_wake());
    EXPECT_FALSE(ch.wake_pending());
    ASSERT_TRUE(ch.publish(update(1), stop.get_token()));
    ASSERT_TRUE(ch.publish(update(2), stop.get_token()));
    EXPECT_EQ(wakes, 1) << "one drain asked for until the consumer takes";
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "the same thread's publish writes no eventfd";
    EXPECT_TRUE(ch.wake_pending());
    ASSERT_EQ(ch.try_consume(out), 2u);
    ASSERT_TRUE(ch.publish(update(3), stop.get_token()));
    EXPECT_EQ(wakes, 1) << "the drain under way will see it: not asked for again";
    EXPECT_TRUE(ch.wake_pending()) << "a drain is under way";
    ASSERT_EQ(ch.try_consume(out), 1u);
    EXPECT_EQ(ch.try_consume(out), 0u);
    ASSERT_TRUE(ch.arm_wake());
    EXPECT_FALSE(ch.wake_pending()) << "the drain ended with the arm";
    ASSERT_TRUE(ch.publish(update(4), stop.get_token()));
    EXPECT_EQ(wakes, 2) << "a publish after the consumer armed again asks again";
    ASSERT_EQ(ch.try_consume(out), 1u);
    ASSERT_TRUE(ch.arm_wake()) << "still armed: nothing is waiting";

    // Armed through the same-thread path, the consumer must still hear every other producer.
    std::jthread other([&](std::stop_token st) { ASSERT_TRUE(ch.publish(update(1, 1), st)); });
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "another thread's publish wakes the consumer through the eventfd";
    other.join();
    EXPECT_EQ(wakes, 2) << "another thread never calls the consumer's own wake";
    std::uint64_t count = 0;
    ASSERT_EQ(::read(ch.wake_fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
    ASSERT_EQ(ch.try_consume(out), 1u);
    EXPECT_EQ(out[0].feed, 1u);

    ch.set_same_thread_wake({});
    ASSERT_EQ(ch.try_consume(out), 0u);
    ASSERT_TRUE(ch.arm_wake());
    ASSERT_TRUE(ch.publish(update(5), stop.get_token()));
    EXPECT_EQ(wakes, 2);
    EXPECT_EQ(::poll(&p, 1, 0), 1) << "with the wake turned off, the eventfd again";
}

// The gateway's worker 0 under stress: a consumer that also publishes on its own thread (its own
// wake only raises a flag it checks before sleeping) beside producers on other threads, in the
// ping-pong of no_lost_wake_ups. It publishes both between its drains and, as a NATS read does,
// right after it armed, which takes the same-thread wake and leaves it armed for the next
// arm_wake() to skip its barrier. A wake-up that path lost for the others (an arm that skipped its
// barrier while another producer's update was unannounced) shows as a poll that times out.
void no_lost_wake_ups_with_a_producer_on_the_consumers_thread(UpdateChannel::WakeBarrier barrier) {
    constexpr int kOthers = 2, kRounds = 3000;
    UpdateChannel ch(64, barrier);
    bool drain_asked = false;
    ch.set_same_thread_wake([&] { drain_asked = true; });
    std::vector<std::atomic<int>> acked(kOthers + 1);
    std::vector<std::jthread> producers;
    for (int p = 1; p <= kOthers; ++p)
        producers.emplace_back([&, p](std::stop_token st) { ping_pong_producer(ch, acked, p, kRounds, st); });
    std::stop_source stop;
    std::vector<protocol::MarketUpdate> out(16);
    std::vector<std::uint64_t> next(kOthers + 1, 1);
    std::uint64_t own = 0;
    int received = 0, arms = 0, asked = 0;
    while (received < kOthers * kRounds + static_cast<int>(own)) {
        if (const std::size_t n = ch.try_consume(out)) {
            for (std::size_t i = 0; i < n; ++i) {
                ASSERT_EQ(out[i].seq, next[out[i].feed]++);
                acked[out[i].feed].store(static_cast<int>(out[i].seq));
            }
            received += static_cast<int>(n);
            if (received % 3 == 0) {
                ASSERT_TRUE(ch.publish(update(++own, 0), stop.get_token()));
            }
            continue;
        }
        if (!ch.arm_wake()) continue;
        if (++arms % 3 == 0) {
            ASSERT_TRUE(ch.publish(update(++own, 0), stop.get_token()));
        }
        if (drain_asked) {
            drain_asked = false;
            ++asked;
            continue;
        }
        pollfd p{ch.wake_fd(), POLLIN, 0};
        if (::poll(&p, 1, 1000) != 1) {
            for (auto& t : producers) t.request_stop();
            FAIL() << "the consumer slept through a publish after " << received << " updates";
        }
        std::uint64_t count = 0;
        ASSERT_EQ(::read(ch.wake_fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
    }
    // A publish right after an arm asks for a drain, unless another producer's wake-up cleared the
    // flag in between: most of them do, so the path under test was taken.
    EXPECT_GT(asked, arms / 6);
    EXPECT_GT(asked, 100);
}

TEST(UpdateChannel, NoLostWakeUpsWithAProducerOnTheConsumersThread) {
    no_lost_wake_ups_with_a_producer_on_the_consumers_thread(UpdateChannel::WakeBarrier::automatic);
}
TEST(UpdateChannel, NoLostWakeUpsWithAProducerOnTheConsumersThreadWithFences) {
    no_lost_wake_ups_with_a_producer_on_the_consumers_thread(UpdateChannel::WakeBarrier::fences);
}

// Every producer publishes seq 1..per_producer as fast as it can through small lanes (so they are
// often full and the consumer often empty-handed); each producer's updates must arrive exactly once
// and in its order, whatever the interleaving across producers.
void stress(int producer_count, std::uint64_t per_producer, std::size_t lane_capacity) {
    UpdateChannel ch(lane_capacity);
    std::vector<std::jthread> producers;
    // Every producer holds its lane before any may finish: a thread that exits gives its lane to
    // the next one to start (by design), which would leave fewer lanes than producers.
    std::latch all_hold_a_lane(producer_count);
    for (int p = 0; p < producer_count; ++p) {
        producers.emplace_back([&, p](std::stop_token st) {
            for (std::uint64_t n = 1; n <= per_producer; ++n) {
                if (!ch.publish(update(n, static_cast<std::uint16_t>(p)), st)) return;
                if (n == 1) all_hold_a_lane.arrive_and_wait();
            }
        });
    }
    std::vector<std::uint64_t> next(static_cast<std::size_t>(producer_count), 1);
    std::vector<protocol::MarketUpdate> out(64);
    std::uint64_t received = 0;
    const auto deadline = Clock::now() + 60s;
    while (received < per_producer * static_cast<std::uint64_t>(producer_count)) {
        if (Clock::now() > deadline) {
            for (auto& t : producers) t.request_stop();
            FAIL() << "only " << received << " updates arrived";
        }
        const std::size_t n = ch.consume(out, 100ms);
        for (std::size_t i = 0; i < n; ++i) {
            const protocol::MarketUpdate& u = out[i];
            ASSERT_LT(u.feed, producer_count);
            ASSERT_EQ(u.seq, next[u.feed]) << "producer " << int(u.feed) << ": lost, duplicated or reordered";
            ++next[u.feed];
        }
        received += n;
    }
    for (auto& t : producers) t.join();
    std::vector<protocol::MarketUpdate> rest(8);
    EXPECT_EQ(ch.consume(rest, 0ms), 0u) << "nothing beyond what was published";
    EXPECT_EQ(ch.depth(), 0u);
    EXPECT_EQ(ch.lanes(), static_cast<std::size_t>(producer_count));
}

TEST(UpdateChannel, OneProducerStress) { stress(1, 300'000, 64); }
TEST(UpdateChannel, TwoProducersStress) { stress(2, 150'000, 64); }
TEST(UpdateChannel, FourProducersStress) { stress(4, 75'000, 64); }
TEST(UpdateChannel, FourProducersTinyLanesStress) { stress(4, 20'000, 2); }

TEST(UpdateChannel, EachProducerThreadGetsItsOwnLane) {
    UpdateChannel ch(4);
    std::stop_source never;
    EXPECT_EQ(ch.lanes(), 0u) << "lanes are allocated on first publish";
    EXPECT_EQ(ch.capacity(), 0u);
    for (std::uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(ch.publish(update(i, 0), never.get_token()));
    EXPECT_EQ(ch.lanes(), 1u);
    // This thread's lane is full, yet another thread publishes without waiting: lanes are
    // independent, so one stalled feed does not hold up the others.
    std::thread other([&] {
        for (std::uint64_t i = 1; i <= 4; ++i) EXPECT_TRUE(ch.publish(update(i, 1), never.get_token()));
    });
    other.join();
    EXPECT_EQ(ch.lanes(), 2u);
    EXPECT_EQ(ch.capacity(), 8u);
    EXPECT_EQ(ch.lane_capacity(), 4u);
    EXPECT_EQ(ch.depth(), 8u);
    EXPECT_EQ(ch.full_events(), 0u);
}

TEST(UpdateChannel, LaneOfAnExitedThreadIsReusedAfterWhatItLeft) {
    UpdateChannel ch(8);
    std::stop_source never;
    std::thread([&] {
        for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(ch.publish(update(i), never.get_token()));
    }).join();
    std::thread([&] {
        for (std::uint64_t i = 4; i <= 5; ++i) ASSERT_TRUE(ch.publish(update(i), never.get_token()));
    }).join();
    EXPECT_EQ(ch.lanes(), 1u) << "the second thread takes over the first one's lane";
    std::vector<protocol::MarketUpdate> out(8);
    ASSERT_EQ(ch.consume(out, 0ms), 5u);
    for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(out[i].seq, i + 1);
}

TEST(UpdateChannel, ThreadKeepsItsLaneAcrossChannels) {
    // A thread alternating between two channels must find its own lane again in each, or its
    // updates could overtake each other.
    UpdateChannel a(8), b(8);
    std::stop_source never;
    for (std::uint64_t i = 1; i <= 6; ++i) {
        ASSERT_TRUE(a.publish(update(i), never.get_token()));
        ASSERT_TRUE(b.publish(update(i), never.get_token()));
    }
    EXPECT_EQ(a.lanes(), 1u);
    EXPECT_EQ(b.lanes(), 1u);
    std::vector<protocol::MarketUpdate> out(8);
    ASSERT_EQ(a.consume(out, 0ms), 6u);
    for (std::uint64_t i = 0; i < 6; ++i) EXPECT_EQ(out[i].seq, i + 1);
}

TEST(UpdateChannel, BusyLaneDoesNotStarveAQuietOne) {
    UpdateChannel ch(1024);
    std::stop_source never;
    // Both producers stay alive until the check, so each keeps its own lane.
    std::latch busy_done(1), all_done(2), release(1);
    std::jthread busy([&] {
        for (std::uint64_t i = 1; i <= 1000; ++i) EXPECT_TRUE(ch.publish(update(i, 0), never.get_token()));
        busy_done.count_down();
        all_done.count_down();
        release.wait();
    });
    std::jthread quiet([&] {
        busy_done.wait();  // the busy lane's backlog is all queued before the quiet lane's first update
        for (std::uint64_t i = 1; i <= 3; ++i) EXPECT_TRUE(ch.publish(update(i, 1), never.get_token()));
        all_done.count_down();
        release.wait();
    });
    all_done.wait();
    ASSERT_EQ(ch.lanes(), 2u);
    // The quiet lane's updates come out in the first batch, not after the busy lane's backlog.
    std::vector<protocol::MarketUpdate> out(16);
    ASSERT_EQ(ch.consume(out, 0ms), 16u);
    std::set<std::uint64_t> quiet_seqs;
    std::uint64_t busy_next = 1;
    for (const protocol::MarketUpdate& u : out) {
        if (u.feed == 1) quiet_seqs.insert(u.seq);
        else EXPECT_EQ(u.seq, busy_next++);
    }
    EXPECT_EQ(quiet_seqs, (std::set<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(busy_next, 14u);
    release.count_down();
}

TEST(UpdateChannel, FullLaneBlocksProducerAndCountsOncePerPublish) {
    UpdateChannel ch(4);
    std::atomic<int> published{0};
    std::jthread producer([&](std::stop_token st) {
        for (std::uint64_t i = 1; i <= 5; ++i) {
            EXPECT_TRUE(ch.publish(update(i), st));
            ++published;
        }
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(published, 4) << "publish must wait while the producer's lane is full";
    EXPECT_EQ(ch.full_events(), 1u) << "one full event per blocked publish, however long it waits";

    std::vector<protocol::MarketUpdate> out(2);
    ASSERT_EQ(ch.consume(out, 0ms), 2u);
    producer.join();
    EXPECT_EQ(published, 5);
    std::vector<protocol::MarketUpdate> rest(8);
    ASSERT_EQ(ch.consume(rest, 0ms), 3u);
    EXPECT_EQ(rest[2].seq, 5u);
    EXPECT_EQ(ch.full_events(), 1u);
}

TEST(UpdateChannel, StopWhileBlockedReturnsFalse) {
    UpdateChannel ch(2);
    std::atomic<int> result{-1};
    std::jthread producer([&](std::stop_token st) {
        ASSERT_TRUE(ch.publish(update(1), st));
        ASSERT_TRUE(ch.publish(update(2), st));
        result = ch.publish(update(3), st) ? 1 : 0;
    });
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
