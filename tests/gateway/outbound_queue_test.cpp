#include "gateway/fanout/outbound_queue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tickgate::gateway {
namespace {

FramePtr frame(std::uint32_t topic, std::string body, std::int64_t ts = 1) {
    auto f = std::make_shared<Frame>();
    f->storage = std::move(body);
    f->topic_id = topic;
    f->ts_ns = ts;
    return f;
}

TEST(OutboundQueue, KeepsOrderBelowHalfAndTakesEverythingInOneBuffer) {
    OutboundQueue q(1000);
    auto a = frame(1, "A1");
    auto b = frame(2, "B1");
    EXPECT_EQ(q.push_live(a, 10), OutboundQueue::Push::queued);
    EXPECT_TRUE(q.push_control("ctl", 11));
    EXPECT_EQ(q.push_live(b, 12), OutboundQueue::Push::queued);
    EXPECT_EQ(q.bytes(), 7u);
    std::string out;
    const auto taken = q.take(out);
    EXPECT_EQ(out, "A1ctlB1");
    EXPECT_EQ(taken.messages, 3u);
    EXPECT_EQ(taken.queued_since_ns, 10);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(OutboundQueue, ConflatesPastHalfKeepingNewestPerTopic) {
    OutboundQueue q(100);
    auto big = frame(9, std::string(45, 'x'));
    ASSERT_EQ(q.push_live(big, 1), OutboundQueue::Push::queued);  // 45 of the 50 allowed in order
    auto t1a = frame(1, "1a______", 5);
    auto t1b = frame(1, "1b______", 6);
    auto t2a = frame(2, "2a______", 7);
    EXPECT_EQ(q.push_live(t1a, 2), OutboundQueue::Push::queued);     // over half: into the map
    EXPECT_EQ(q.push_live(t2a, 3), OutboundQueue::Push::queued);
    EXPECT_EQ(q.push_live(t1b, 4), OutboundQueue::Push::conflated);  // replaces 1a
    EXPECT_EQ(q.take_conflated_count(), 1u);
    EXPECT_EQ(q.bytes(), 45u + 8u + 8u);
    std::string out;
    const auto taken = q.take(out);
    EXPECT_EQ(out.substr(0, 45), std::string(45, 'x'));
    EXPECT_NE(out.find("1b"), std::string::npos);
    EXPECT_EQ(out.find("1a"), std::string::npos);
    EXPECT_NE(out.find("2a"), std::string::npos);
    EXPECT_EQ(taken.messages, 3u);
    EXPECT_EQ(taken.oldest_update_ts_ns, 1);
}

TEST(OutboundQueue, OnceConflatingLaterFramesOfATopicNeverOvertakeTheMap) {
    OutboundQueue q(100);
    auto big = frame(9, std::string(48, 'x'));
    q.push_live(big, 1);
    auto a = frame(1, "aaaaa");
    q.push_live(a, 2);  // 53 > 50: conflated
    auto tiny = frame(1, "b");
    // Would fit in the ordered half only if we ignored the map; it must join the map instead.
    EXPECT_EQ(q.push_live(tiny, 3), OutboundQueue::Push::conflated);
    std::string out;
    q.take(out);
    EXPECT_EQ(out, std::string(48, 'x') + "b");
}

TEST(OutboundQueue, ReportsOverflowPastTheBound) {
    OutboundQueue q(100);
    for (std::uint32_t topic = 0; topic < 12; ++topic) {
        auto f = frame(topic, std::string(9, 'y'));
        const auto r = q.push_live(f, 1);
        if (topic < 11) {  // 45 ordered + 6 conflated x 9 = 99 bytes still fit
            EXPECT_NE(r, OutboundQueue::Push::overflow) << topic;
        } else {
            EXPECT_EQ(r, OutboundQueue::Push::overflow);
        }
    }
}

TEST(OutboundQueue, ControlFramesAreRefusedWhenTheyWouldPassTheBound) {
    OutboundQueue q(64);
    EXPECT_TRUE(q.push_control(std::string(60, 'c'), 1));
    EXPECT_FALSE(q.push_control(std::string(5, 'd'), 2));
    EXPECT_EQ(q.bytes(), 60u);
    EXPECT_FALSE(q.push_control_built([](std::string& s) { s.append(10, 'e'); }, 3));
    EXPECT_EQ(q.bytes(), 60u);
}

TEST(OutboundQueue, ForgottenTopicIsNotSent) {
    OutboundQueue q(20);
    auto big = frame(9, std::string(10, 'x'));
    q.push_live(big, 1);
    auto a = frame(1, "gone");
    q.push_live(a, 2);
    q.forget_topic(1);
    EXPECT_EQ(q.bytes(), 10u);
    std::string out;
    q.take(out);
    EXPECT_EQ(out, std::string(10, 'x'));
}

TEST(OutboundQueue, TakeSwapsBuffersSoCapacityIsReused) {
    OutboundQueue q(1 << 20);
    std::string out;
    for (int round = 0; round < 3; ++round) {
        auto f = frame(1, std::string(1000, 'z'));
        q.push_live(f, round);
        out.clear();
        q.take(out);
        EXPECT_EQ(out.size(), 1000u);
    }
}

}  // namespace
}  // namespace tickgate::gateway

namespace tickgate::gateway {
namespace {

TEST(OutboundQueue, ASnapshotQueuedWhileConflatingStillPrecedesLaterLiveUpdates) {
    OutboundQueue q(64);
    auto filler = frame(9, std::string(30, 'f'));
    q.push_live(filler, 1);
    auto live_other = frame(2, "L2");
    q.push_live(live_other, 2);   // conflating from here on
    EXPECT_TRUE(q.push_control("S1", 3));      // snapshot of topic 1: ordered part
    auto live1 = frame(1, "L1");
    q.push_live(live1, 4);             // newer live update of topic 1: after the snapshot
    std::string out;
    q.take(out);
    EXPECT_LT(out.find("S1"), out.find("L1"));
}

}  // namespace
}  // namespace tickgate::gateway
