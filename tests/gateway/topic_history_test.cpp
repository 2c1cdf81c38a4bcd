// The history's bounds and what it answers a resume: every message after the client's point or
// none (not_reached), the epoch, the seam at what a worker has delivered, Socket.IO offsets.
#include "gateway/fanout/topic_history.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tickgate::gateway {
namespace {

FramePtr frame_of(std::size_t payload) {
    auto f = std::make_shared<Frame>();
    f->storage.assign(payload, 'x');
    return f;
}

std::vector<std::uint64_t> seqs(const std::vector<HistoryEntry>& entries) {
    std::vector<std::uint64_t> out;
    for (const auto& e : entries) out.push_back(e.seq);
    return out;
}

constexpr std::uint64_t kEpoch = 0xe1;

TEST(TopicHistory, ReplaysEverythingAfterTheClientsSeqUpToWhatTheWorkerDelivered) {
    TopicHistory h({5, 1 << 20, 0});
    for (std::uint64_t seq = 1; seq <= 8; ++seq) h.append(0, kEpoch, seq, seq - 1, seq, frame_of(100), 0);
    std::vector<HistoryEntry> out;
    // 5 kept: 4..8; the floor is 3, so a client that saw 3 (or later) is covered.
    EXPECT_EQ(h.since_seq(0, kEpoch, 3, 8, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{4, 5, 6, 7, 8}));
    EXPECT_EQ(h.since_seq(0, kEpoch, 5, 7, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{6, 7})) << "nothing past the worker's seam";
    EXPECT_EQ(h.since_seq(0, kEpoch, 8, 8, out), TopicHistory::Reach::covered);
    EXPECT_TRUE(out.empty()) << "up to date";
    EXPECT_EQ(h.since_seq(0, kEpoch, 2, 8, out), TopicHistory::Reach::not_reached);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.since_seq(0, kEpoch, 9, 8, out), TopicHistory::Reach::ahead);
    EXPECT_EQ(h.since_seq(0, 0xe2, 5, 8, out), TopicHistory::Reach::stale_epoch);
    EXPECT_EQ(h.since_seq(0, 0, 5, 8, out), TopicHistory::Reach::stale_epoch) << "0 is never an epoch";
    EXPECT_EQ(h.since_seq(1, kEpoch, 0, 0, out), TopicHistory::Reach::not_reached) << "a topic never held";
    EXPECT_EQ(h.evictions().count, 3u);
}

TEST(TopicHistory, AHistoryStartedMidStreamCoversFromItsFirstEntrysPrevSeq) {
    TopicHistory h({10, 1 << 20, 0});
    // A book view's first delta after the gateway started names its prev_seq (40), not seq - 1.
    h.append(0, kEpoch, 47, 40, 1, frame_of(50), 0);
    h.append(0, kEpoch, 52, 47, 2, frame_of(50), 0);
    std::vector<HistoryEntry> out;
    EXPECT_EQ(h.since_seq(0, kEpoch, 40, 52, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{47, 52}));
    EXPECT_EQ(h.since_seq(0, kEpoch, 39, 52, out), TopicHistory::Reach::not_reached);
}

TEST(TopicHistory, TheByteBudgetEvictsTheOldestEntryAnywhereAndHolds) {
    const std::size_t budget = 64 * 1024;
    TopicHistory h({1000, budget, 0});
    // A flood over many topics: the budget holds, and the newest entries are the ones kept.
    for (std::uint32_t i = 0; i < 20000; ++i) {
        h.append(i, kEpoch, 1, 0, i + 1, frame_of(200), 0);
        ASSERT_LE(h.bytes(), budget);
    }
    EXPECT_GT(h.evictions().bytes, 19000u);
    std::vector<HistoryEntry> out;
    EXPECT_EQ(h.since_seq(19999, kEpoch, 0, 1, out), TopicHistory::Reach::covered);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(h.since_seq(0, kEpoch, 0, 1, out), TopicHistory::Reach::not_reached) << "evicted for the budget";
}

TEST(TopicHistory, OrderRecordsOfEntriesGoneCountAgainstTheBudget) {
    // One idle topic's old entry at the front, another topic churning through its own limit: the
    // records of the churned entries must not pile up without bound.
    const std::size_t budget = 16 * 1024;
    TopicHistory h({2, budget, 0});
    h.append(0, kEpoch, 1, 0, 1, frame_of(10), 0);
    for (std::uint64_t seq = 1; seq <= 100000; ++seq) {
        h.append(1, kEpoch, seq, seq - 1, seq + 1, frame_of(10), 0);
        ASSERT_LE(h.bytes(), budget);
    }
    std::vector<HistoryEntry> out;
    EXPECT_EQ(h.since_seq(1, kEpoch, 99998, 100000, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{99999, 100000}));
}

TEST(TopicHistory, AgeLimitDropsOldEntriesOnAppendAndOnExpire) {
    TopicHistory h({100, 1 << 20, 1000});
    const std::int64_t s = 1'000'000'000;
    h.append(0, kEpoch, 1, 0, 1, frame_of(10), 0);
    h.append(1, kEpoch, 1, 0, 2, frame_of(10), s / 2);
    h.append(0, kEpoch, 2, 1, 3, frame_of(10), s + s / 4);  // the first entry is now older than 1 s
    std::vector<HistoryEntry> out;
    EXPECT_EQ(h.since_seq(0, kEpoch, 0, 2, out), TopicHistory::Reach::not_reached);
    EXPECT_EQ(h.since_seq(0, kEpoch, 1, 2, out), TopicHistory::Reach::covered);
    h.expire(3 * s);
    EXPECT_EQ(h.entries(), 0u);
    EXPECT_EQ(h.bytes(), 0u);
    EXPECT_EQ(h.evictions().age, 3u);
}

TEST(TopicHistory, AResetForANewEpochForgetsTheOldOne) {
    TopicHistory h({10, 1 << 20, 0});
    for (std::uint64_t seq = 1; seq <= 3; ++seq) h.append(0, kEpoch, seq, seq - 1, seq, frame_of(10), 0);
    h.reset(0, 0xe2, 4);
    EXPECT_EQ(h.epoch(0), 0xe2u);
    EXPECT_EQ(h.entries(), 0u);
    std::vector<HistoryEntry> out;
    EXPECT_EQ(h.since_seq(0, kEpoch, 2, 3, out), TopicHistory::Reach::stale_epoch);
    h.append(0, 0xe2, 1, 0, 4, frame_of(10), 0);
    EXPECT_EQ(h.since_seq(0, 0xe2, 0, 1, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{1}));
    EXPECT_EQ(h.since_offset(0, 2, 4, out), TopicHistory::Reach::not_reached) << "an offset from the old epoch";
    EXPECT_EQ(h.since_offset(0, 3, 4, out), TopicHistory::Reach::covered);
}

TEST(TopicHistory, OffsetsSelectAcrossTopicsAndATopicNeverSeenHasNothingToMiss) {
    TopicHistory h({2, 1 << 20, 0});
    h.append(0, kEpoch, 1, 0, 1, frame_of(10), 0);
    h.append(1, kEpoch, 1, 0, 2, frame_of(10), 0);
    h.append(0, kEpoch, 2, 1, 3, frame_of(10), 0);
    h.append(0, kEpoch, 3, 2, 4, frame_of(10), 0);  // topic 0 evicts offset 1
    std::vector<HistoryEntry> out;
    EXPECT_EQ(h.since_offset(0, 1, 4, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(h.since_offset(0, 0, 4, out), TopicHistory::Reach::not_reached);
    EXPECT_EQ(h.since_offset(1, 0, 4, out), TopicHistory::Reach::covered);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{1}));
    EXPECT_EQ(h.since_offset(7, 0, 4, out), TopicHistory::Reach::covered);
    EXPECT_TRUE(out.empty());
}

TEST(TopicHistory, LastKUpToTheSeamOldestFirst) {
    TopicHistory h({10, 1 << 20, 0});
    for (std::uint64_t seq = 1; seq <= 6; ++seq) h.append(0, kEpoch, seq, seq - 1, seq, frame_of(10), 0);
    std::vector<HistoryEntry> out;
    h.last(0, 3, 5, out);
    EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{3, 4, 5}));
    h.last(0, 30, 6, out);
    EXPECT_EQ(out.size(), 6u);
    h.last(3, 3, 6, out);
    EXPECT_TRUE(out.empty());
}

TEST(TopicHistory, OffWhenPerTopicIsZero) {
    TopicHistory h({0, 1 << 20, 0});
    EXPECT_FALSE(h.enabled());
    h.append(0, kEpoch, 1, 0, 1, frame_of(10), 0);
    EXPECT_EQ(h.entries(), 0u);
}

}  // namespace
}  // namespace tickgate::gateway
