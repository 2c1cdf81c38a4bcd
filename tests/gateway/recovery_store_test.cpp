#include "gateway/session/recovery_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tickgate::gateway {
namespace {

constexpr std::int64_t kMs = 1'000'000;

KeptSession session(std::string sub, std::vector<std::string> entries) {
    KeptSession s;
    s.sub = std::move(sub);
    s.entries = std::move(entries);
    return s;
}

TEST(RecoveryStore, PidsAre128RandomBitsInHex) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const auto pid = RecoveryStore::new_pid();
        ASSERT_EQ(pid.size(), 32u);
        EXPECT_EQ(pid.find_first_not_of("0123456789abcdef"), std::string::npos) << pid;
        seen.insert(pid);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(RecoveryStore, ASessionIsTakenOnceWithWhatWasKept) {
    RecoveryStore store(1000, 10);
    KeptSession kept = session("alice", {"ticker.*", "trade.BTC-USD"});
    kept.covered_from = {{3, 41}};
    store.keep("p1", std::move(kept), 0);
    EXPECT_EQ(store.size(), 1u);
    EXPECT_FALSE(store.take("p2", 1));
    auto got = store.take("p1", 999 * kMs);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->sub, "alice");
    EXPECT_EQ(got->entries, (std::vector<std::string>{"ticker.*", "trade.BTC-USD"}));
    ASSERT_EQ(got->covered_from.size(), 1u);
    EXPECT_EQ(got->covered_from[0], (std::pair<std::uint32_t, std::uint64_t>{3, 41}));
    EXPECT_FALSE(store.take("p1", 999 * kMs)) << "a pid recovers once";
    EXPECT_EQ(store.size(), 0u);
    const auto c = store.counts();
    EXPECT_EQ(c.kept, 1u);
    EXPECT_EQ(c.taken, 1u);
    EXPECT_EQ(c.expired, 0u);
}

TEST(RecoveryStore, ExpiresAfterTheWindow) {
    RecoveryStore store(1000, 10);
    store.keep("p1", session("", {"ticker.*"}), 0);
    store.keep("p2", session("", {"ticker.*"}), 500 * kMs);
    EXPECT_FALSE(store.take("p1", 1000 * kMs)) << "the window is over at now + window";
    EXPECT_EQ(store.size(), 1u);
    EXPECT_EQ(store.counts().expired, 1u);
    EXPECT_TRUE(store.take("p2", 1499 * kMs));
    EXPECT_EQ(store.counts().expired, 1u) << "taken, not expired";
}

TEST(RecoveryStore, KeepingAPidAgainRestartsItsWindow) {
    RecoveryStore store(1000, 10);
    store.keep("p1", session("", {"ticker.A-B"}), 0);
    ASSERT_TRUE(store.take("p1", 100 * kMs));
    // Recovered, then dropped again: the same pid is kept again, later.
    store.keep("p1", session("", {"ticker.C-D"}), 800 * kMs);
    auto got = store.take("p1", 1500 * kMs);
    ASSERT_TRUE(got) << "the first keep's expiry must not remove the second";
    EXPECT_EQ(got->entries, std::vector<std::string>{"ticker.C-D"});
    EXPECT_EQ(store.counts().expired, 0u);
}

TEST(RecoveryStore, PastItsCapTheOldestGoesFirst) {
    RecoveryStore store(60'000, 3);
    for (int i = 0; i < 5; ++i) store.keep("p" + std::to_string(i), session("", {}), i * kMs);
    EXPECT_EQ(store.size(), 3u);
    EXPECT_EQ(store.counts().evicted, 2u);
    EXPECT_FALSE(store.take("p0", 10 * kMs));
    EXPECT_FALSE(store.take("p1", 10 * kMs));
    EXPECT_TRUE(store.take("p2", 10 * kMs));
    EXPECT_TRUE(store.take("p4", 10 * kMs));
}

TEST(RecoveryStore, CountsOutcomes) {
    RecoveryStore store(1000, 10);
    store.count(RecoveryStore::Outcome::recovered);
    store.count(RecoveryStore::Outcome::restored);
    store.count(RecoveryStore::Outcome::refused);
    store.count(RecoveryStore::Outcome::refused);
    const auto c = store.counts();
    EXPECT_EQ(c.recovered, 1u);
    EXPECT_EQ(c.restored, 1u);
    EXPECT_EQ(c.refused, 2u);
}

// Workers keep and take concurrently: every session kept is taken exactly once, or still there.
TEST(RecoveryStore, ConcurrentKeepsAndTakes) {
    RecoveryStore store(60'000, 100'000);
    constexpr int kThreads = 4, kEach = 2000;
    std::atomic<int> taken{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                const std::string pid = std::to_string(t) + "-" + std::to_string(i);
                store.keep(pid, session("", {"ticker.*"}), i);
                // Take the other thread's sessions too: a client may come back on any worker.
                if (store.take(std::to_string((t + 1) % kThreads) + "-" + std::to_string(i), i)) ++taken;
                if (store.take(pid, i)) ++taken;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(static_cast<std::size_t>(taken.load()) + store.size(), static_cast<std::size_t>(kThreads * kEach));
    EXPECT_EQ(store.counts().taken, static_cast<std::uint64_t>(taken.load()));
}

}  // namespace
}  // namespace tickgate::gateway
