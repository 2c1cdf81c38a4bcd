#include "feeds/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "protocol/model/market_update.hpp"

namespace tickgate::feeds {
namespace {

TEST(SpscRing, CapacityIsRoundedUpToAPowerOfTwo) {
    EXPECT_EQ(SpscRing<int>(0).capacity(), 1u);
    EXPECT_EQ(SpscRing<int>(1).capacity(), 1u);
    EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
    EXPECT_EQ(SpscRing<int>(1024).capacity(), 1024u);
}

TEST(SpscRing, EmptyRingHasNoFront) {
    SpscRing<int> ring(4);
    EXPECT_EQ(ring.front(), nullptr);
    EXPECT_TRUE(ring.empty());
    EXPECT_TRUE(ring.drained());
    int out[4];
    EXPECT_EQ(ring.pop_into(out, 4), 0u);
}

TEST(SpscRing, FullRingRejectsAndStaysUnchanged) {
    SpscRing<int> ring(4);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.try_push(i));
    EXPECT_FALSE(ring.try_push(99));
    EXPECT_FALSE(ring.try_emplace(98));
    EXPECT_EQ(ring.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        ASSERT_NE(ring.front(), nullptr);
        EXPECT_EQ(*ring.front(), i) << "a rejected push must not overwrite anything";
        ring.pop();
    }
    EXPECT_EQ(ring.front(), nullptr);
    EXPECT_TRUE(ring.try_push(5));  // space again after draining
    EXPECT_EQ(*ring.front(), 5);
}

TEST(SpscRing, OneSlotRingAlternates) {
    SpscRing<int> ring(1);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(ring.try_push(i));
        ASSERT_FALSE(ring.try_push(-1));
        ASSERT_EQ(*ring.front(), i);
        ring.pop();
    }
}

TEST(SpscRing, FifoAcrossManyWrapArounds) {
    SpscRing<std::uint64_t> ring(8);
    std::uint64_t pushed = 0, popped = 0;
    // Uneven push/pop bursts, through front/pop and pop_into alike, so the head and tail meet at
    // every slot index and the ring is found both full and empty many times.
    int fulls = 0, empties = 0;
    for (int round = 0; round < 20'000; ++round) {
        const int burst = 1 + round % 11;
        for (int i = 0; i < burst; ++i) {
            if (!ring.try_push(pushed)) {
                ++fulls;
                break;
            }
            ++pushed;
        }
        const int take = 1 + (round * 7) % 9;
        if (round % 2 == 0) {
            for (int i = 0; i < take; ++i) {
                const std::uint64_t* v = ring.front();
                if (v == nullptr) {
                    ++empties;
                    break;
                }
                ASSERT_EQ(*v, popped);
                ring.pop();
                ++popped;
            }
        } else {
            std::uint64_t out[9];
            const std::size_t n = ring.pop_into(out, static_cast<std::size_t>(take));
            if (n < static_cast<std::size_t>(take)) ++empties;
            for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], popped++);
        }
        ASSERT_EQ(ring.size(), pushed - popped);
    }
    EXPECT_GT(popped, 8u * 5000) << "wrapped around at least 5000 times";
    EXPECT_GT(fulls, 100);
    EXPECT_GT(empties, 100);
}

TEST(SpscRing, PopIntoTakesAtMostMaxInOrder) {
    SpscRing<int> ring(16);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(ring.try_push(i));
    int out[4] = {};
    ASSERT_EQ(ring.pop_into(out, 4), 4u);
    EXPECT_EQ(out[0], 0);
    EXPECT_EQ(out[3], 3);
    EXPECT_FALSE(ring.drained());
    int rest[16] = {};
    ASSERT_EQ(ring.pop_into(rest, 16), 6u);
    EXPECT_EQ(rest[0], 4);
    EXPECT_EQ(rest[5], 9);
    EXPECT_EQ(ring.pop_into(rest, 16), 0u);
    EXPECT_TRUE(ring.drained());
}

TEST(SpscRing, CarriesMarketUpdatesIntact) {
    SpscRing<protocol::MarketUpdate> ring(4);
    protocol::MarketUpdate u;
    u.seq = 42;
    u.bid = 6499950;
    u.volume_24h = -7;
    u.set_topic("ticker.BTC-USD");
    ASSERT_TRUE(ring.try_push(u));
    protocol::MarketUpdate out;
    ASSERT_EQ(ring.pop_into(&out, 1), 1u);
    EXPECT_EQ(out.seq, 42u);
    EXPECT_EQ(out.bid, 6499950);
    EXPECT_EQ(out.volume_24h, -7);
    EXPECT_EQ(out.topic(), "ticker.BTC-USD");
}

// Counts live objects so that every construction is matched by exactly one destruction.
struct Counted {
    static inline std::atomic<int> live{0};
    static inline std::atomic<int> constructed{0};
    std::string payload;  // non-trivial: a leak or double destruction shows up under ASan too

    explicit Counted(int v) noexcept : payload(std::to_string(v) + std::string(32, 'x')) { ++live, ++constructed; }
    Counted(const Counted& o) noexcept : payload(o.payload) { ++live, ++constructed; }
    Counted(Counted&& o) noexcept : payload(std::move(o.payload)) { ++live, ++constructed; }
    Counted& operator=(Counted&&) noexcept = default;
    ~Counted() { --live; }
};

TEST(SpscRing, ConstructionsAndDestructionsBalance) {
    Counted::live = 0;
    Counted::constructed = 0;
    {
        SpscRing<Counted> ring(8);
        EXPECT_EQ(Counted::constructed, 0) << "slots must not hold objects before a push";
        for (int i = 0; i < 20; ++i) {  // wraps around twice, one element at a time
            ASSERT_TRUE(ring.try_emplace(i));
            ASSERT_NE(ring.front(), nullptr);
            EXPECT_EQ(ring.front()->payload.substr(0, std::to_string(i).size()), std::to_string(i));
            ring.pop();
        }
        EXPECT_EQ(Counted::live, 0);
        const Counted c(7);
        ASSERT_TRUE(ring.try_push(c));  // copy
        EXPECT_EQ(Counted::live, 2);
        ASSERT_TRUE(ring.try_push(Counted(8)));  // move: the temporary is gone once the push returns
        EXPECT_EQ(Counted::live, 3);
        for (int i = 0; i < 6; ++i) ASSERT_TRUE(ring.try_emplace(i));
        EXPECT_FALSE(ring.try_emplace(99)) << "full";
        EXPECT_EQ(Counted::live, 9);
        Counted out(0);
        ASSERT_EQ(ring.pop_into(&out, 1), 1u);
        EXPECT_EQ(out.payload, c.payload);
        EXPECT_EQ(Counted::live, 9);  // c, out and seven left in the ring
    }
    EXPECT_EQ(Counted::live, 0) << "the destructor must destroy elements left in the ring";
    EXPECT_EQ(Counted::constructed, 20 + 1 + 1 + 2 + 6 + 1);
}

// One producer pushes 0..count-1 through a small ring while the consumer takes them in uneven
// batches; every item must arrive exactly once and in order. The tiny capacity keeps both sides
// hitting full and empty, i.e. refreshing their cached copy of the other's index, all the time.
void stress(std::uint64_t count, std::size_t capacity) {
    SpscRing<std::uint64_t> ring(capacity);
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < count; ++i)
            while (!ring.try_push(i)) std::this_thread::yield();
    });
    std::uint64_t next = 0, batch[37];
    for (std::size_t round = 0; next < count; ++round) {
        const std::size_t want = 1 + round % 37;
        const std::size_t n = ring.pop_into(batch, want);
        if (n == 0) std::this_thread::yield();
        for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(batch[i], next++) << "lost, duplicated or reordered";
    }
    producer.join();
    EXPECT_EQ(ring.front(), nullptr);
    EXPECT_TRUE(ring.drained());
}

TEST(SpscRing, ProducerConsumerStress) { stress(2'000'000, 64); }
TEST(SpscRing, ProducerConsumerTinyRingStress) { stress(200'000, 2); }

// The same with a non-trivial element: the consumer's moves and destructions race with the
// producer's constructions in other slots; the counts must still balance.
TEST(SpscRing, CountedProducerConsumerStress) {
    Counted::live = 0;
    constexpr int kCount = 200'000;
    {
        SpscRing<Counted> ring(16);
        std::thread producer([&] {
            for (int i = 0; i < kCount; ++i)
                while (!ring.try_emplace(i)) std::this_thread::yield();
        });
        int next = 0;
        while (next < kCount) {
            if (Counted* c = ring.front()) {
                ASSERT_EQ(c->payload, std::to_string(next) + std::string(32, 'x'));
                ring.pop();
                ++next;
            } else {
                std::this_thread::yield();
            }
        }
        producer.join();
        EXPECT_EQ(Counted::live, 0);
    }
    EXPECT_EQ(Counted::live, 0);
}

}  // namespace
}  // namespace tickgate::feeds
