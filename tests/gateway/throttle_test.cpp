// Throttled subscriptions (ticker.BTC-USD@1000ms) in one worker's registry: what a tick sends, to
// whom, and how a book view's merged delta chains for every subscriber of the stream.
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/subscription_registry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tickgate::gateway {
namespace {

const std::uint8_t k100 = rate_of_interval(100);
const std::uint8_t k250 = rate_of_interval(250);
const std::uint8_t k1000 = rate_of_interval(1000);

FramePtr ticker_frame(std::uint32_t id, std::uint64_t seq) {
    auto f = std::make_shared<Frame>();
    f->storage = "[" + std::to_string(id) + ":" + std::to_string(seq) + "]";
    f->topic_id = id;
    return f;
}

std::shared_ptr<BookDelta> book_delta(std::uint64_t seq, std::uint64_t prev, std::vector<protocol::PriceLevel> bids) {
    auto d = std::make_shared<BookDelta>();
    d->seq = seq;
    d->prev_seq = prev;
    d->ts_ns = static_cast<std::int64_t>(seq);
    d->checksum = static_cast<std::uint32_t>(1000 + seq);
    d->set_topic("book.BTC-USD");
    d->bids = std::move(bids);
    return d;
}

class ThrottleTest : public ::testing::Test {
protected:
    void SetUp() override { registry.on_throttled([this] { ++armed; }); }

    void add_ticker(std::uint32_t id, std::string_view name) { registry.ensure_topic(id, name); }
    void add_book(std::uint32_t id) {
        protocol::MarketUpdate first;
        first.kind = protocol::UpdateKind::book;
        first.set_topic("book.BTC-USD");
        registry.ensure_topic(id, first);
    }
    void publish(std::uint32_t id, std::uint64_t seq) {
        protocol::MarketUpdate u;
        u.set_topic(registry.topic(id).name);
        u.kind = registry.topic(id).kind;
        u.seq = seq;
        registry.deliver(id, u, ticker_frame(id, seq), 0);
    }
    void publish_book(std::uint32_t id, std::shared_ptr<BookDelta> d) {
        protocol::MarketUpdate u;
        u.set_topic("book.BTC-USD");
        u.kind = protocol::UpdateKind::book;
        u.seq = d->seq;
        registry.deliver(id, u, frames::book_delta(std::move(d), id), 0);
    }
    std::string drain(Subscriber& s) {
        std::string out;
        s.queue().take(out);
        return out;
    }
    std::vector<std::string> list(std::initializer_list<const char*> items) { return {items.begin(), items.end()}; }

    SubscriptionRegistry registry;
    int armed = 0;
};

TEST_F(ThrottleTest, ATickSendsTheNewestValueOnceToEverySubscriberOfTheStream) {
    add_ticker(0, "ticker.BTC-USD");
    Subscriber a(1 << 20), b(1 << 20);
    const auto out = registry.subscribe(a, list({"ticker.BTC-USD@1000ms"}), 10);
    EXPECT_EQ(out.added, list({"ticker.BTC-USD@1000ms"}));  // as written
    EXPECT_EQ(out.newly_covered, std::vector<std::uint32_t>{0});
    registry.subscribe(b, list({"ticker.*@1000ms"}), 10);
    EXPECT_EQ(armed, 1) << "the worker is asked to tick once, when the interval gets its first subscriber";
    EXPECT_EQ(registry.throttled_streams(), 1u) << "one (topic, interval), however many clients";
    EXPECT_EQ(registry.throttled_subscriptions(k1000), 2u);

    publish(0, 1);
    publish(0, 2);
    publish(0, 3);
    EXPECT_EQ(drain(a), "") << "nothing between ticks";
    EXPECT_EQ(registry.deliver_throttled(k250, 0), 0u) << "another interval's tick sends nothing";
    EXPECT_EQ(registry.deliver_throttled(k1000, 0), 2u);
    EXPECT_EQ(drain(a), "[0:3]");
    EXPECT_EQ(drain(b), "[0:3]");
    EXPECT_EQ(registry.deliver_throttled(k1000, 0), 0u) << "nothing new: nothing sent";
    EXPECT_EQ(drain(a), "");

    registry.remove(a);
    registry.remove(b);
    EXPECT_EQ(registry.throttled_streams(), 0u);
    EXPECT_EQ(registry.throttled_subscriptions(k1000), 0u);
    publish(0, 4);
    EXPECT_EQ(registry.deliver_throttled(k1000, 0), 0u);
}

TEST_F(ThrottleTest, ATopicCoveredSeveralTimesIsDeliveredOnceAtTheFastestRate) {
    add_ticker(0, "ticker.BTC-USD");
    add_ticker(1, "ticker.ETH-USD");
    Subscriber s(1 << 20);
    registry.subscribe(s, list({"ticker.BTC-USD", "ticker.*@1000ms", "ticker.ETH-USD@100ms"}), 10);
    publish(0, 1);
    publish(0, 2);
    publish(1, 1);
    publish(1, 2);
    EXPECT_EQ(drain(s), "[0:1][0:2]") << "raw beats any interval";
    EXPECT_EQ(registry.deliver_throttled(k1000, 0), 0u) << "no topic is left at 1000 ms";
    EXPECT_EQ(registry.deliver_throttled(k100, 0), 1u);
    EXPECT_EQ(drain(s), "[1:2]");

    // Without the raw entry, BTC-USD falls back to the pattern's 1000 ms; without the 100 ms
    // entry, ETH-USD too.
    auto un = registry.unsubscribe(s, list({"ticker.BTC-USD", "ticker.ETH-USD@100ms"}));
    EXPECT_EQ(un.removed, list({"ticker.BTC-USD", "ticker.ETH-USD@100ms"}));
    EXPECT_TRUE(un.resync.empty()) << "both hold the newest value already";
    publish(0, 3);
    publish(1, 3);
    EXPECT_EQ(drain(s), "");
    EXPECT_EQ(registry.deliver_throttled(k100, 0), 0u);
    EXPECT_EQ(registry.deliver_throttled(k1000, 0), 2u);
    const std::string got = drain(s);
    EXPECT_TRUE(got == "[0:3][1:3]" || got == "[1:3][0:3]") << got;
    EXPECT_EQ(registry.throttled_streams(), 2u);
}

TEST_F(ThrottleTest, ThrottledPatternsCoverTickersAndBooksOnly) {
    const std::vector<std::string> chat{"chat"};
    add_ticker(0, "ticker.BTC-USD");
    add_book(1);
    registry.ensure_topic(2, "trade.BTC-USD", protocol::UpdateKind::trade);
    registry.ensure_topic(3, "chat.lobby", protocol::UpdateKind::published);
    Subscriber throttled(1 << 20), raw(1 << 20);
    const auto out = registry.subscribe(throttled, list({"*.*@250ms"}), 10, chat);
    EXPECT_EQ(out.newly_covered, (std::vector<std::uint32_t>{0, 1}));
    registry.subscribe(raw, list({"*.*"}), 10, chat);
    EXPECT_EQ(raw.membership().coverage.size(), 4u);
    // Topics that appear later likewise.
    registry.ensure_topic(4, "trade.ETH-USD", protocol::UpdateKind::trade);
    add_ticker(5, "ticker.ETH-USD");
    EXPECT_FALSE(throttled.membership().coverage.contains(4));
    EXPECT_TRUE(throttled.membership().coverage.contains(5));
    publish(2, 1);
    EXPECT_EQ(registry.deliver_throttled(k250, 0), 0u);
    EXPECT_EQ(drain(throttled), "") << "a trade is never throttled";
    // An exact trade or room with an interval is not a throttled entry (the session layer refuses
    // them with their reason before they get here).
    Subscriber exact(1 << 20);
    const auto bad = registry.subscribe(exact, list({"trade.BTC-USD@250ms", "chat.lobby@250ms"}), 10, chat);
    EXPECT_EQ(bad.malformed, list({"trade.BTC-USD@250ms", "chat.lobby@250ms"}));
}

// A book view's stream merges its deltas per level between ticks: one delta chained from what the
// stream last sent, with the newest seq and checksum. A client that subscribed between ticks holds
// a newer snapshot: it gets the same levels chained from its own seq.
TEST_F(ThrottleTest, BookDeltasAreMergedPerTickAndChainForEverySubscriber) {
    add_book(0);
    publish_book(0, book_delta(1, 0, {{10000, 5}, {9990, 3}}));  // the view's base
    Subscriber early(1 << 20);
    registry.subscribe(early, list({"book.BTC-USD@500ms"}), 10);
    const std::uint8_t k500 = rate_of_interval(500);

    publish_book(0, book_delta(2, 1, {{10000, 7}}));
    publish_book(0, book_delta(3, 2, {{10000, 8}, {9980, 1}}));
    Subscriber late(1 << 20);
    registry.subscribe(late, list({"book.*@500ms"}), 10);  // its snapshot is at seq 3
    publish_book(0, book_delta(4, 3, {{9990, 0}}));
    EXPECT_EQ(registry.deliver_throttled(k500, 0), 2u);
    EXPECT_EQ(registry.throttled_encodes(), 2u) << "the stream's delta, and the joiner's own link";

    const std::string e = drain(early);
    EXPECT_NE(e.find(R"("seq":4,"prev_seq":1)"), std::string::npos) << e;
    EXPECT_NE(e.find(R"("bids":[["100.00","0.0008"],["99.90","0.0000"],["99.80","0.0001"]])"), std::string::npos)
        << "per level, the newest size: " << e;
    EXPECT_NE(e.find(R"("checksum":1004)"), std::string::npos) << "the newest delta's checksum: " << e;
    const std::string l = drain(late);
    EXPECT_NE(l.find(R"("seq":4,"prev_seq":3)"), std::string::npos) << "chained from its snapshot: " << l;
    EXPECT_NE(l.find(R"("bids":[["100.00","0.0008"],["99.90","0.0000"],["99.80","0.0001"]])"), std::string::npos) << l;

    // After the tick both hold 4 and share the stream's next message.
    publish_book(0, book_delta(5, 4, {{10000, 9}}));
    EXPECT_EQ(registry.deliver_throttled(k500, 0), 2u);
    EXPECT_EQ(registry.throttled_encodes(), 2u) << "a lone delta goes out as it was encoded for raw subscribers";
    EXPECT_EQ(drain(early), drain(late));
}

// The work of a tick is per stream: a thousand subscribers of one book stream cost one merged
// delta per tick, as one subscriber does.
TEST_F(ThrottleTest, ATickSerializesOncePerStreamWhateverTheSubscribers) {
    add_book(0);
    publish_book(0, book_delta(1, 0, {{10000, 5}}));
    std::vector<std::unique_ptr<Subscriber>> many;
    for (int i = 0; i < 1000; ++i) {
        many.push_back(std::make_unique<Subscriber>(1 << 16));
        registry.subscribe(*many.back(), list({"book.BTC-USD@250ms"}), 10);
    }
    const std::uint8_t k250 = rate_of_interval(250);
    for (std::uint64_t tick = 1; tick <= 3; ++tick) {
        publish_book(0, book_delta(2 * tick, 2 * tick - 1, {{10000, static_cast<std::int64_t>(6 + tick)}}));
        publish_book(0, book_delta(2 * tick + 1, 2 * tick, {{9990, static_cast<std::int64_t>(tick)}}));
        EXPECT_EQ(registry.deliver_throttled(k250, 0), 1000u);
        EXPECT_EQ(registry.throttled_encodes(), tick) << "one frame per stream and tick";
    }
    const std::string first = drain(*many.front());
    for (std::size_t i = 1; i < many.size(); ++i) ASSERT_EQ(drain(*many[i]), first) << "subscriber " << i;
}

TEST_F(ThrottleTest, ABookMovedToAStreamAheadOfWhatItHoldsGetsASnapshot) {
    add_book(0);
    publish_book(0, book_delta(1, 0, {{10000, 5}}));
    Subscriber slow(1 << 20), fast(1 << 20);
    registry.subscribe(slow, list({"book.BTC-USD@1000ms"}), 10);
    registry.subscribe(fast, list({"book.BTC-USD@100ms"}), 10);
    publish_book(0, book_delta(2, 1, {{10000, 6}}));
    registry.deliver_throttled(k100, 0);  // the 100 ms stream has sent 2; slow holds 1
    auto out = registry.subscribe(slow, list({"book.BTC-USD@100ms"}), 10);
    EXPECT_TRUE(out.newly_covered.empty());
    EXPECT_EQ(out.resync, std::vector<std::uint32_t>{0}) << "the next 100 ms delta would not chain from 1";
    // Raw from a stream that has news pending: raw goes on from the view's current seq.
    publish_book(0, book_delta(3, 2, {{10000, 7}}));
    out = registry.subscribe(fast, list({"book.BTC-USD"}), 10);
    EXPECT_EQ(out.resync, std::vector<std::uint32_t>{0});
    // A ticker held at the newest value needs nothing.
    add_ticker(1, "ticker.BTC-USD");
    publish(1, 1);
    Subscriber t(1 << 20);
    registry.subscribe(t, list({"ticker.BTC-USD@1000ms"}), 10);
    EXPECT_TRUE(registry.subscribe(t, list({"ticker.BTC-USD"}), 10).resync.empty());
}

TEST_F(ThrottleTest, ATransferredSessionKeepsItsThrottledStreams) {
    add_ticker(0, "ticker.BTC-USD");
    add_book(1);
    publish_book(1, book_delta(1, 0, {{10000, 5}}));
    Subscriber polling(1 << 20), websocket(1 << 20);
    registry.subscribe(polling, list({"ticker.BTC-USD@250ms"}), 10);
    publish_book(1, book_delta(2, 1, {{10000, 6}}));
    registry.subscribe(polling, list({"book.BTC-USD@250ms"}), 10);  // between ticks: joined at 2
    registry.transfer(polling, websocket);
    publish(0, 1);
    publish_book(1, book_delta(3, 2, {{10000, 7}}));
    EXPECT_EQ(registry.deliver_throttled(k250, 0), 2u);
    EXPECT_EQ(drain(polling), "");
    const std::string got = drain(websocket);
    EXPECT_NE(got.find("[0:1]"), std::string::npos) << got;
    EXPECT_NE(got.find(R"("seq":3,"prev_seq":2)"), std::string::npos) << got;
    registry.remove(websocket);
    EXPECT_EQ(registry.throttled_streams(), 0u);
}

// An epoch change (a new publisher) sends every subscriber, at any rate, the next value as a
// snapshot; the streams go on from it instead of sending what was pending.
TEST_F(ThrottleTest, AFreshSnapshotReachesThrottledSubscribersAndRestartsTheirStream) {
    add_ticker(0, "ticker.BTC-USD");
    Subscriber s(1 << 20);
    registry.subscribe(s, list({"ticker.BTC-USD@1000ms"}), 10);
    registry.note_position(0, 1, 1, 111);
    publish(0, 1);
    registry.note_position(0, 1, 2, 222);  // seqs start over
    protocol::MarketUpdate u;
    u.set_topic("ticker.BTC-USD");
    u.seq = 1;
    registry.deliver(0, u, frames::live_update(u, 0), 0);
    const std::string got = drain(s);
    EXPECT_NE(got.find(R"("snapshot":true)"), std::string::npos) << got;
    EXPECT_EQ(registry.deliver_throttled(k1000, 0), 0u) << "the stale pending value is not sent after it";
}

}  // namespace
}  // namespace tickgate::gateway
