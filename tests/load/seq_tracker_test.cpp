#include "bench/load/seq_tracker.hpp"

#include <gtest/gtest.h>

namespace tickgate::load {
namespace {

TEST(SeqTracker, ConsecutiveUpdatesAfterASnapshotHaveNoGaps) {
    SeqTracker t;
    t.on_update("ticker.BTC-USD", 10, true);
    for (std::uint64_t s = 11; s <= 20; ++s) t.on_update("ticker.BTC-USD", s, false);
    EXPECT_EQ(t.counts().snapshots, 1u);
    EXPECT_EQ(t.counts().updates, 10u);
    EXPECT_EQ(t.counts().gaps, 0u);
    EXPECT_EQ(t.counts().missing, 0u);
}

TEST(SeqTracker, JumpsCountGapsAndMissingUpdates) {
    SeqTracker t;
    t.on_update("ticker.A-B", 1, true);
    t.on_update("ticker.A-B", 2, false);
    t.on_update("ticker.A-B", 5, false);   // 3, 4 missing
    t.on_update("ticker.A-B", 6, false);
    t.on_update("ticker.A-B", 10, false);  // 7, 8, 9 missing
    EXPECT_EQ(t.counts().gaps, 2u);
    EXPECT_EQ(t.counts().missing, 5u);
}

TEST(SeqTracker, DuplicatesAndReorderingAreCountedApart) {
    SeqTracker t;
    t.on_update("ticker.A-B", 5, false);  // no snapshot: the first update is the baseline
    t.on_update("ticker.A-B", 5, false);
    t.on_update("ticker.A-B", 3, false);
    t.on_update("ticker.A-B", 6, false);  // still in order relative to the highest seen
    EXPECT_EQ(t.counts().duplicates, 1u);
    EXPECT_EQ(t.counts().reordered, 1u);
    EXPECT_EQ(t.counts().gaps, 0u);
}

TEST(SeqTracker, TopicsAreTrackedSeparately) {
    SeqTracker t;
    t.on_update("ticker.A-B", 100, true);
    t.on_update("ticker.C-D", 7, true);
    t.on_update("ticker.A-B", 101, false);
    t.on_update("ticker.C-D", 8, false);
    t.on_update("ticker.C-D", 10, false);
    EXPECT_EQ(t.topics(), 2u);
    EXPECT_EQ(t.counts().gaps, 1u);
    EXPECT_EQ(t.counts().missing, 1u);
}

TEST(SeqTracker, ASnapshotResetsTheBaseline) {
    SeqTracker t;
    t.on_update("ticker.A-B", 1, true);
    t.on_update("ticker.A-B", 2, false);
    t.on_update("ticker.A-B", 50, true);  // re-subscribed: the snapshot carries the latest seq
    t.on_update("ticker.A-B", 51, false);
    EXPECT_EQ(t.counts().gaps, 0u);
    EXPECT_EQ(t.counts().snapshots, 2u);
}

TEST(SeqCounts, AddSumsEveryField) {
    SeqCounts a{1, 2, 3, 4, 5, 6}, b{10, 20, 30, 40, 50, 60};
    a.add(b);
    EXPECT_EQ(a.updates, 11u);
    EXPECT_EQ(a.snapshots, 22u);
    EXPECT_EQ(a.gaps, 33u);
    EXPECT_EQ(a.missing, 44u);
    EXPECT_EQ(a.duplicates, 55u);
    EXPECT_EQ(a.reordered, 66u);
}

}  // namespace
}  // namespace tickgate::load
