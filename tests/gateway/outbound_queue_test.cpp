#include "gateway/fanout/outbound_queue.hpp"

#include "gateway/fanout/frame_encoder.hpp"
#include "protocol/websocket_frame.hpp"

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

TEST(OutboundQueue, SharedFramesKeepTheirPlaceEvenPastHalfAndAreRefusedPastTheBound) {
    OutboundQueue q(100);
    auto big = frame(9, std::string(45, 'x'));
    ASSERT_EQ(q.push_live(big, 1), OutboundQueue::Push::queued);
    auto t1a = frame(1, "1a______");
    EXPECT_EQ(q.push_live(t1a, 2), OutboundQueue::Push::queued);  // over half: conflated from now on
    auto announcement = frame(0, "ANN");
    EXPECT_TRUE(q.push_shared(announcement, 3));
    EXPECT_TRUE(q.push_shared(announcement, 3));  // never conflated: twice is twice
    EXPECT_EQ(q.bytes(), 45u + 8u + 6u);
    EXPECT_FALSE(q.push_shared(frame(0, std::string(42, 'z')), 4));  // 59 + 42 > 100
    EXPECT_EQ(q.bytes(), 59u);
    EXPECT_FALSE(q.overflowed());  // the caller decides what a refusal means
    std::string out;
    q.take(out);
    EXPECT_EQ(out, std::string(45, 'x') + "ANNANN" + "1a______");  // ordered bytes, then the conflated
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

TEST(OutboundQueue, AnEmptiedQueueGivesBackWhatASnapshotBurstGrewItTo) {
    // A subscribe to 10 topics queues an ack and 10 snapshots (~330 bytes each) as control bytes;
    // once they are written an idle session keeps an ordinary write's worth, not the burst's.
    OutboundQueue q(1 << 20);
    std::string out;
    for (int i = 0; i < 11; ++i) q.push_control_built([](std::string& o) { o.append(330, 's'); }, 1);
    EXPECT_GT(q.buffer_capacity_bytes(), 11u * 330);
    q.take(out);
    EXPECT_EQ(out.size(), 11u * 330);
    EXPECT_LE(q.buffer_capacity_bytes(), 256u + 8 * 32) << "the burst's buffers were kept";
    // A pong afterwards is queued and taken as before, and its small buffer is kept for the next.
    q.push_control_built([](std::string& o) { o.append(100, 'p'); }, 2);
    out.clear();
    q.take(out);
    EXPECT_EQ(out, std::string(100, 'p'));
    EXPECT_GE(q.buffer_capacity_bytes(), 100u);
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

namespace tickgate::gateway {
namespace {

FramePtr book_frame(std::uint32_t topic, std::uint64_t prev_seq, std::uint64_t seq, std::uint32_t checksum,
                    std::vector<protocol::PriceLevel> bids, std::vector<protocol::PriceLevel> asks) {
    auto d = std::make_shared<BookDelta>();
    d->set_topic("book.BTC-USD");
    d->prev_seq = prev_seq;
    d->seq = seq;
    d->ts_ns = static_cast<std::int64_t>(seq);
    d->checksum = checksum;
    d->bids = std::move(bids);
    d->asks = std::move(asks);
    return frames::book_delta(std::move(d), topic);
}

std::vector<std::string> texts_of(const std::string& bytes) {
    std::vector<std::string> out;
    protocol::ServerFrame f;
    std::string_view rest = bytes;
    while (protocol::take_server_frame(rest, f)) out.emplace_back(f.payload);
    return out;
}

// Past half, a view's pending deltas become one delta for this client: it chains from what the
// client last got (the first pending prev_seq) to the newest seq, newest size per level.
TEST(OutboundQueueBooks, PendingDeltasOfAViewAreMergedPerLevelPastHalf) {
    OutboundQueue q(1000, Wire::v1);
    ASSERT_EQ(q.push_live(frame(9, std::string(480, 'x')), 1), OutboundQueue::Push::queued);
    EXPECT_EQ(q.push_live(book_frame(1, 5, 6, 111, {{10000, 1}}, {}), 2), OutboundQueue::Push::queued);
    EXPECT_EQ(q.push_live(book_frame(1, 6, 8, 222, {{10000, 0}, {9999, 2}}, {{10001, 3}}), 3),
              OutboundQueue::Push::conflated);
    EXPECT_EQ(q.push_live(book_frame(1, 8, 9, 333, {{9998, 4}}, {{10001, 5}}), 4), OutboundQueue::Push::conflated);
    EXPECT_EQ(q.take_merged_count(), 2u);
    std::string out;
    q.take(out);
    ASSERT_EQ(out.substr(0, 480), std::string(480, 'x'));
    const auto texts = texts_of(out.substr(480));
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(texts[0],
              R"({"type":"book","topic":"book.BTC-USD","seq":9,"prev_seq":5,"ts":9,"snapshot":false,)"
              R"("bids":[["100.00","0.0000"],["99.99","0.0002"],["99.98","0.0004"]],"asks":[["100.01","0.0005"]],"checksum":333})");
}

TEST(OutboundQueueBooks, TradesAreDroppedPastHalfAndTickersStillConflate) {
    OutboundQueue q(1000, Wire::socketio);
    ASSERT_EQ(q.push_live(frame(9, std::string(499, 'x')), 1), OutboundQueue::Push::queued);
    auto trade = frame(2, "T1");
    std::const_pointer_cast<Frame>(trade)->kind = protocol::UpdateKind::trade;
    auto small_trade = frame(2, "T0");
    std::const_pointer_cast<Frame>(small_trade)->kind = protocol::UpdateKind::trade;
    EXPECT_EQ(q.push_live(trade, 2), OutboundQueue::Push::dropped);
    EXPECT_EQ(q.push_live(frame(3, "A1"), 3), OutboundQueue::Push::queued);
    EXPECT_EQ(q.push_live(frame(3, "A2"), 4), OutboundQueue::Push::conflated);
    EXPECT_EQ(q.take_dropped_trade_count(), 1u);
    EXPECT_EQ(q.take_conflated_count(), 1u);
    std::string out;
    q.take(out);
    EXPECT_EQ(out, std::string(499, 'x') + "A2");
    // Below half again, a trade is queued in order like anything else.
    EXPECT_EQ(q.push_live(small_trade, 5), OutboundQueue::Push::queued);
}

// A published message (chat.lobby) is an event like a trade: past half it is dropped, never
// conflated into a later one (which would hide that it was ever sent), and its room's seq shows it.
TEST(OutboundQueueBooks, PublishedMessagesAreDroppedPastHalfNeverConflated) {
    OutboundQueue q(1000);
    auto message = [](std::string body) {
        auto f = frame(4, std::move(body));
        std::const_pointer_cast<Frame>(f)->kind = protocol::UpdateKind::published;
        return f;
    };
    EXPECT_EQ(q.push_live(message("M1"), 1), OutboundQueue::Push::queued);
    ASSERT_EQ(q.push_live(frame(9, std::string(497, 'x')), 1), OutboundQueue::Push::queued);
    EXPECT_EQ(q.push_live(message("M2"), 2), OutboundQueue::Push::dropped);
    EXPECT_EQ(q.push_live(message("M3"), 3), OutboundQueue::Push::dropped);
    EXPECT_EQ(q.take_dropped_published_count(), 2u);
    EXPECT_EQ(q.take_dropped_published_count(), 0u);
    EXPECT_EQ(q.take_dropped_trade_count(), 0u);
    EXPECT_EQ(q.take_conflated_count(), 0u);
    std::string out;
    q.take(out);
    EXPECT_EQ(out, "M1" + std::string(497, 'x'));
    EXPECT_EQ(q.push_live(message("M4"), 5), OutboundQueue::Push::queued);  // below half: in order again
}

TEST(OutboundQueueBooks, AMergedDeltaForSocketIoIsTheBookEvent) {
    OutboundQueue q(1000, Wire::socketio);
    ASSERT_EQ(q.push_live(frame(9, std::string(480, 'x')), 1), OutboundQueue::Push::queued);
    q.push_live(book_frame(1, 1, 2, 7, {{10000, 1}}, {}), 2);
    q.push_live(book_frame(1, 2, 3, 8, {}, {{10002, 1}}), 3);
    std::string out;
    q.take(out);
    const auto texts = texts_of(out.substr(480));
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(texts[0], R"(42["book",{"type":"book","topic":"book.BTC-USD","seq":3,"prev_seq":1,"ts":3,"snapshot":false,)"
                        R"("bids":[["100.00","0.0001"]],"asks":[["100.02","0.0001"]],"checksum":8}])");
}

}  // namespace
}  // namespace tickgate::gateway
