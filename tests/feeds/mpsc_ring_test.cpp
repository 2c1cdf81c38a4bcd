#include "feeds/mpsc_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "feeds/ticker_update.hpp"

namespace tickgate::feeds {
namespace {

TEST(MpscRing, CapacityIsRoundedUpToAPowerOfTwo) {
    EXPECT_EQ(MpscRing<int>(0).capacity(), 2u);
    EXPECT_EQ(MpscRing<int>(2).capacity(), 2u);
    EXPECT_EQ(MpscRing<int>(5).capacity(), 8u);
    EXPECT_EQ(MpscRing<int>(1024).capacity(), 1024u);
}

TEST(MpscRing, EmptyRingHasNoFront) {
    MpscRing<int> ring(4);
    EXPECT_EQ(ring.front(), nullptr);
    EXPECT_TRUE(ring.empty());
    EXPECT_TRUE(ring.nothing_claimed());
}

TEST(MpscRing, FullRingRejectsAndStaysUnchanged) {
    MpscRing<int> ring(4);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.try_push(i));
    EXPECT_FALSE(ring.try_push(99));
    EXPECT_EQ(ring.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        ASSERT_NE(ring.front(), nullptr);
        EXPECT_EQ(*ring.front(), i);
        ring.pop();
    }
    EXPECT_EQ(ring.front(), nullptr);
    EXPECT_TRUE(ring.try_push(5));  // space again after draining
}

TEST(MpscRing, FifoAcrossManyWrapArounds) {
    MpscRing<std::uint64_t> ring(8);
    std::uint64_t pushed = 0, popped = 0;
    // Uneven push/pop batches so the head and tail meet at every slot index.
    for (int round = 0; round < 10'000; ++round) {
        const int burst = 1 + round % 8;
        for (int i = 0; i < burst && ring.try_push(pushed); ++i) ++pushed;
        const int take = 1 + (round * 7) % 8;
        for (int i = 0; i < take; ++i) {
            const std::uint64_t* v = ring.front();
            if (v == nullptr) break;
            ASSERT_EQ(*v, popped);
            ring.pop();
            ++popped;
        }
    }
    EXPECT_GT(popped, 8u * 1000);  // wrapped around at least a thousand times
}

TEST(MpscRing, PopIntoTakesAtMostMaxInOrder) {
    MpscRing<int> ring(16);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(ring.try_push(i));
    int out[4] = {};
    ASSERT_EQ(ring.pop_into(out, 4), 4u);
    EXPECT_EQ(out[0], 0);
    EXPECT_EQ(out[3], 3);
    int rest[16] = {};
    ASSERT_EQ(ring.pop_into(rest, 16), 6u);
    EXPECT_EQ(rest[0], 4);
    EXPECT_EQ(rest[5], 9);
    EXPECT_EQ(ring.pop_into(rest, 16), 0u);
    EXPECT_TRUE(ring.nothing_claimed());
}

TEST(MpscRing, CarriesTickerUpdatesIntact) {
    MpscRing<TickerUpdate> ring(4);
    TickerUpdate u;
    u.seq = 42;
    u.bid = 6499950;
    u.set_topic("ticker.BTC-USD");
    ASSERT_TRUE(ring.try_push(u));
    TickerUpdate out;
    ASSERT_EQ(ring.pop_into(&out, 1), 1u);
    EXPECT_EQ(out.seq, 42u);
    EXPECT_EQ(out.bid, 6499950);
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

TEST(MpscRing, ConstructionsAndDestructionsBalance) {
    Counted::live = 0;
    Counted::constructed = 0;
    {
        MpscRing<Counted> ring(8);
        EXPECT_EQ(Counted::constructed, 0) << "slots must not hold objects before a push";
        for (int i = 0; i < 20; ++i) {
            ASSERT_TRUE(ring.try_emplace(i));
            ASSERT_NE(ring.front(), nullptr);
            EXPECT_EQ(ring.front()->payload.substr(0, std::to_string(i).size()), std::to_string(i));
            ring.pop();
        }
        EXPECT_EQ(Counted::live, 0);
        const Counted c(7);
        ASSERT_TRUE(ring.try_push(c));
        EXPECT_EQ(Counted::live, 2);
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.try_emplace(i));
        Counted out(0);
        ASSERT_EQ(ring.pop_into(&out, 1), 1u);
        EXPECT_EQ(out.payload, c.payload);
        EXPECT_EQ(Counted::live, 6);  // c, out and four left in the ring
    }
    EXPECT_EQ(Counted::live, 0) << "the destructor must destroy elements left in the ring";
    EXPECT_EQ(Counted::constructed, 20 + 1 + 1 + 4 + 1);
}

// Every producer pushes (producer, n) for n = 0..per_producer-1; the consumer checks that each
// producer's items arrive in order and none is lost or duplicated.
void stress(int producers, int per_producer, std::size_t capacity) {
    struct Item {
        std::uint32_t producer;
        std::uint32_t n;
    };
    MpscRing<Item> ring(capacity);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            for (int n = 0; n < per_producer; ++n) {
                while (!ring.try_push({static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(n)}))
                    std::this_thread::yield();
            }
        });
    }
    std::vector<std::uint32_t> next(producers, 0);
    std::int64_t received = 0;
    go.store(true, std::memory_order_release);
    Item batch[64];
    while (received < static_cast<std::int64_t>(producers) * per_producer) {
        const std::size_t n = ring.pop_into(batch, 64);
        if (n == 0) std::this_thread::yield();
        for (std::size_t i = 0; i < n; ++i) {
            const Item& it = batch[i];
            ASSERT_LT(it.producer, static_cast<std::uint32_t>(producers));
            ASSERT_EQ(it.n, next[it.producer]) << "producer " << it.producer << " out of order or duplicated";
            ++next[it.producer];
        }
        received += static_cast<std::int64_t>(n);
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ring.front(), nullptr);
    for (int p = 0; p < producers; ++p) EXPECT_EQ(next[p], static_cast<std::uint32_t>(per_producer));
}

TEST(MpscRing, TwoProducersStress) { stress(2, 400'000, 64); }
TEST(MpscRing, FourProducersStress) { stress(4, 200'000, 64); }
TEST(MpscRing, FourProducersTinyRingStress) { stress(4, 50'000, 2); }

}  // namespace
}  // namespace tickgate::feeds
