#include "gateway/fanout/subscription_registry.hpp"
#include "gateway/fanout/frame_encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tickgate::gateway {
namespace {

protocol::MarketUpdate update(std::string_view topic, std::uint64_t seq) {
    protocol::MarketUpdate u;
    u.set_topic(topic);
    u.seq = seq;
    u.ts_ns = static_cast<std::int64_t>(seq);
    return u;
}

FramePtr frame_for(std::uint32_t id, std::uint64_t seq) {
    auto f = std::make_shared<Frame>();
    f->storage = "[" + std::to_string(id) + ":" + std::to_string(seq) + "]";
    f->topic_id = id;
    return f;
}

class RegistryTest : public ::testing::Test {
protected:
    void add_topic(std::uint32_t id, std::string_view name) { registry.ensure_topic(id, name); }
    void publish(std::uint32_t id, std::uint64_t seq) {
        const auto& name = registry.topic(id).name;
        auto u = update(name, seq);
        u.kind = registry.topic(id).kind;  // as the engine hands it out: a room's message is kind published
        registry.deliver(id, u, frame_for(id, seq), 0);
        registry.flush_dirty([&](Subscriber& s) { dirty.push_back(&s); });
    }
    std::string drain(Subscriber& s) {
        std::string out;
        s.queue().take(out);
        return out;
    }
    std::vector<std::string> list(std::initializer_list<const char*> items) { return {items.begin(), items.end()}; }

    SubscriptionRegistry registry;
    std::vector<Subscriber*> dirty;
};

TEST_F(RegistryTest, ClassifiesEntriesAndReportsUnknownAndMalformed) {
    add_topic(0, "ticker.BTC-USD");
    Subscriber s(1 << 20);
    auto out = registry.subscribe(s, list({"ticker.BTC-USD", "ticker.NOPE-USD", "bad topic", "ticker.*"}), 10);
    EXPECT_EQ(out.added, list({"ticker.BTC-USD", "ticker.*"}));
    EXPECT_EQ(out.unknown, list({"ticker.NOPE-USD"}));
    EXPECT_EQ(out.malformed, list({"bad topic"}));
    EXPECT_EQ(out.newly_covered, std::vector<std::uint32_t>{0});  // covered twice, reported once
}

TEST_F(RegistryTest, DeliversOnceToASessionCoveredTwice) {
    add_topic(0, "ticker.BTC-USD");
    Subscriber s(1 << 20);
    registry.subscribe(s, list({"ticker.BTC-USD", "ticker.*", "*.*"}), 10);
    publish(0, 1);
    EXPECT_EQ(drain(s), "[0:1]");
    EXPECT_EQ(dirty.size(), 1u);
}

TEST_F(RegistryTest, PatternsCoverTopicsThatAppearLater) {
    Subscriber s(1 << 20);
    auto out = registry.subscribe(s, list({"*.ETH-USD"}), 10);
    EXPECT_EQ(out.added, list({"*.ETH-USD"}));  // matching nothing yet is fine
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "ticker.ETH-USD");
    add_topic(2, "trades.ETH-USD");
    publish(0, 1);
    publish(1, 1);
    publish(2, 1);
    EXPECT_EQ(drain(s), "[1:1][2:1]");
}

TEST_F(RegistryTest, UnsubscribeRemovesExactlyTheEntryNamed) {
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "ticker.ETH-USD");
    Subscriber s(1 << 20);
    registry.subscribe(s, list({"ticker.BTC-USD", "ticker.*"}), 10);
    auto out = registry.unsubscribe(s, list({"ticker.BTC-USD", "ticker.SOL-USD"}));
    EXPECT_EQ(out.removed, list({"ticker.BTC-USD"}));  // not held: not listed
    publish(0, 2);
    EXPECT_EQ(drain(s), "[0:2]");  // still covered by the pattern
    registry.unsubscribe(s, list({"ticker.*"}));
    publish(0, 3);
    publish(1, 3);
    EXPECT_EQ(drain(s), "");
    EXPECT_TRUE(s.membership().coverage.empty());
}

TEST_F(RegistryTest, ResubscribingAHeldEntryIsANoOp) {
    add_topic(0, "ticker.BTC-USD");
    Subscriber s(1 << 20);
    registry.subscribe(s, list({"ticker.BTC-USD"}), 10);
    auto again = registry.subscribe(s, list({"ticker.BTC-USD"}), 10);
    EXPECT_TRUE(again.added.empty());
    EXPECT_EQ(again.already_held, list({"ticker.BTC-USD"}));
    EXPECT_TRUE(again.newly_covered.empty());
    EXPECT_EQ(s.membership().entries.size(), 1u);
}

TEST_F(RegistryTest, EnforcesTheSubscriptionLimitWithPatternsCountingAsOne) {
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "ticker.ETH-USD");
    Subscriber s(1 << 20);
    auto out = registry.subscribe(s, list({"*.*", "ticker.BTC-USD", "ticker.ETH-USD"}), 2);
    EXPECT_EQ(out.added, list({"*.*", "ticker.BTC-USD"}));
    EXPECT_EQ(out.over_limit, list({"ticker.ETH-USD"}));
}

TEST_F(RegistryTest, RemovingOneSessionKeepsOthersListsIntact) {
    add_topic(0, "ticker.BTC-USD");
    std::vector<std::unique_ptr<Subscriber>> subs;
    for (int i = 0; i < 5; ++i) {
        subs.push_back(std::make_unique<Subscriber>(1 << 20));
        registry.subscribe(*subs.back(), list({"ticker.BTC-USD"}), 10);
    }
    registry.remove(*subs[1]);
    registry.remove(*subs[4]);
    publish(0, 1);
    EXPECT_EQ(drain(*subs[0]), "[0:1]");
    EXPECT_EQ(drain(*subs[1]), "");
    EXPECT_EQ(drain(*subs[2]), "[0:1]");
    EXPECT_EQ(drain(*subs[3]), "[0:1]");
    EXPECT_EQ(drain(*subs[4]), "");
    EXPECT_EQ(registry.topic(0).subscribers.size(), 3u);
}

TEST_F(RegistryTest, KeepsTheLatestValueForSnapshots) {
    add_topic(0, "ticker.BTC-USD");
    EXPECT_FALSE(registry.topic(0).has_value);
    publish(0, 41);
    publish(0, 42);
    EXPECT_TRUE(registry.topic(0).has_value);
    EXPECT_EQ(registry.topic(0).latest.seq, 42u);
    Subscriber s(1 << 20);
    auto out = registry.subscribe(s, list({"ticker.*"}), 10);
    EXPECT_EQ(out.newly_covered, std::vector<std::uint32_t>{0});
}

TEST_F(RegistryTest, UnsubscribeDropsAConflatedFrameOfTheTopic) {
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "ticker.ETH-USD");
    Subscriber s(16);  // half = 8 bytes: frames after the first are conflated
    registry.subscribe(s, list({"ticker.BTC-USD", "ticker.ETH-USD"}), 10);
    publish(1, 1);
    publish(1, 2);
    publish(0, 3);  // conflated
    registry.unsubscribe(s, list({"ticker.BTC-USD"}));
    EXPECT_EQ(drain(s), "[1:1][1:2]");
}

TEST_F(RegistryTest, TransferHandsEntriesOverInPlace) {
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "ticker.ETH-USD");
    Subscriber polling(1 << 20), other(1 << 20), websocket(1 << 20);
    registry.subscribe(other, list({"ticker.BTC-USD"}), 10);
    registry.subscribe(polling, list({"ticker.BTC-USD", "ticker.*"}), 10);
    registry.transfer(polling, websocket);
    EXPECT_TRUE(polling.membership().entries.empty());
    EXPECT_TRUE(polling.membership().coverage.empty());
    EXPECT_EQ(websocket.membership().entries, list({"ticker.BTC-USD", "ticker.*"}));

    publish(0, 1);
    EXPECT_EQ(drain(websocket), "[0:1]");
    EXPECT_EQ(drain(polling), "");
    EXPECT_EQ(drain(other), "[0:1]");
    // The pattern moved too: a new topic reaches the new holder only.
    add_topic(2, "ticker.SOL-USD");
    publish(2, 1);
    EXPECT_EQ(drain(websocket), "[2:1]");
    EXPECT_EQ(drain(polling), "");
    // And the old holder's slots are free of it: unsubscribing and removing the new one leaves
    // the other subscriber's delivery intact.
    registry.unsubscribe(websocket, list({"ticker.*"}));
    publish(1, 1);
    EXPECT_EQ(drain(websocket), "");
    registry.remove(websocket);
    publish(0, 2);
    EXPECT_EQ(drain(websocket), "");
    EXPECT_EQ(drain(other), "[0:2]");
}


// A book view before its first change has no base (a book from the bus waits for a keyframe): a
// subscriber then gets no snapshot, and the first change reaches it as a snapshot of the view, from
// which the next delta chains. Later subscribers get the view as it is.
TEST_F(RegistryTest, ABookViewWithoutABaseSendsItsFirstChangeAsASnapshot) {
    protocol::MarketUpdate first;
    first.kind = protocol::UpdateKind::book;
    first.set_topic("book.BTC-USD");
    registry.ensure_topic(0, first);
    EXPECT_FALSE(registry.topic(0).has_value) << "nothing to send a subscriber yet";
    Subscriber early(1 << 20), io(1 << 20, Wire::socketio);
    registry.subscribe(early, list({"book.BTC-USD"}), 10);
    registry.subscribe(io, list({"book.*"}), 10);

    auto delta = [](std::uint64_t seq, std::uint64_t prev, std::int64_t price) {
        auto d = std::make_shared<BookDelta>();
        d->seq = seq;
        d->prev_seq = prev;
        d->ts_ns = 7;
        d->set_topic("book.BTC-USD");
        d->bids.push_back({price, 5});
        return d;
    };
    auto u = first;
    u.seq = 41;
    registry.deliver(0, u, frames::book_delta(delta(41, 0, 10000), 0), 0);
    const std::string got = drain(early);
    EXPECT_NE(got.find(R"("seq":41)"), std::string::npos) << got;
    EXPECT_NE(got.find(R"("snapshot":true)"), std::string::npos) << got;
    EXPECT_EQ(got.find("prev_seq"), std::string::npos) << "a snapshot, not the delta chained from 0: " << got;
    EXPECT_NE(got.find(R"("bids":[["100.00","0.0005"]])"), std::string::npos) << got;
    const std::string io_got = drain(io);
    EXPECT_NE(io_got.find(R"(42["book",)"), std::string::npos) << "Socket.IO's own framing: " << io_got;
    EXPECT_NE(io_got.find(R"("snapshot":true)"), std::string::npos) << io_got;
    EXPECT_TRUE(registry.topic(0).has_value);

    u.seq = 42;
    registry.deliver(0, u, frames::book_delta(delta(42, 41, 10001), 0), 0);
    const std::string next = drain(early);
    EXPECT_NE(next.find(R"("prev_seq":41)"), std::string::npos) << "then deltas: " << next;
    EXPECT_NE(next.find(R"("snapshot":false)"), std::string::npos) << next;
    EXPECT_EQ(registry.topic(0).book->depth(protocol::BookSide::bid), 2u);
    EXPECT_EQ(registry.topic(0).book_seq, 42u);
}

// Socket.IO connection state recovery: with it on, a live Socket.IO event carries the message's
// offset as its last argument (socket.io-client recovers from the last one it received); v1 frames
// and, with it off, Socket.IO events are as before.
TEST_F(RegistryTest, SocketIoEventsCarryTheOffsetOnlyWithRecoveryOn) {
    add_topic(0, "ticker.BTC-USD");
    Subscriber v1(1 << 20), io(1 << 20, Wire::socketio);
    registry.subscribe(v1, list({"ticker.BTC-USD"}), 10);
    registry.subscribe(io, list({"ticker.*"}), 10);
    auto u = update("ticker.BTC-USD", 7);
    const auto frame = frames::live_update(u, 0);
    registry.deliver(0, u, frame, 0, 123);
    const std::string off = drain(io);
    EXPECT_EQ(off.find(R"(,"123"])"), std::string::npos) << off;
    EXPECT_NE(off.find(R"(42["ticker",{)"), std::string::npos) << off;
    const std::string v1_off = drain(v1);

    registry.set_socketio_offsets(true);
    u.seq = 8;
    const auto next = frames::live_update(u, 0);
    registry.deliver(0, u, next, 0, 124);
    const std::string on = drain(io);
    EXPECT_NE(on.find(R"(42["ticker",{)"), std::string::npos) << on;
    EXPECT_NE(on.find(R"(},"124"])"), std::string::npos) << "the offset, a string, last: " << on;
    const std::string v1_on = drain(v1);
    EXPECT_EQ(v1_on.find("124"), std::string::npos) << "v1 frames carry no offset: " << v1_on;
    EXPECT_EQ(v1_on.size(), v1_off.size());
}

// Rooms (client publishing, issue 16): an exact room on a publishable channel is known before its
// first message, held until the room appears, and then receives that first message.
TEST_F(RegistryTest, RoomsOnPublishableChannelsAreKnownBeforeTheyExist) {
    const std::vector<std::string> chat{"chat"};
    Subscriber s(1 << 20), patterned(1 << 20);
    auto out = registry.subscribe(s, list({"chat.lobby", "news.lobby", "chat.BTC-USD", "chat.1-2"}), 10, chat);
    EXPECT_EQ(out.added, list({"chat.lobby", "chat.1-2"}));  // "1-2" is a symbol and a room: a room here
    EXPECT_EQ(out.malformed, list({"news.lobby"}));          // a room on a channel without rooms
    EXPECT_EQ(out.unknown, list({"chat.BTC-USD"}));          // not a room: a market topic nobody publishes
    EXPECT_TRUE(out.newly_covered.empty());
    registry.subscribe(patterned, list({"chat.*"}), 10, chat);
    EXPECT_TRUE(registry.topic_names().empty());  // list shows rooms that exist only

    registry.ensure_topic(0, "chat.lobby", protocol::UpdateKind::published);
    publish(0, 1);
    EXPECT_EQ(drain(s), "[0:1]");  // the first message reaches who subscribed before it
    EXPECT_EQ(drain(patterned), "[0:1]");
    EXPECT_EQ(registry.topic_names(), std::vector<std::string_view>{"chat.lobby"});
    EXPECT_FALSE(registry.topic(0).has_value);  // no snapshot of a room: messages are events
    // Held once the room exists: subscribing again is a no-op, a second subscriber is covered at once.
    EXPECT_EQ(registry.subscribe(s, list({"chat.lobby"}), 10, chat).already_held, list({"chat.lobby"}));
    Subscriber later(1 << 20);
    EXPECT_EQ(registry.subscribe(later, list({"chat.lobby"}), 10, chat).newly_covered, std::vector<std::uint32_t>{0});
}

TEST_F(RegistryTest, WithoutPublishableChannelsARoomIsMalformed) {
    Subscriber s(1 << 20);
    const auto out = registry.subscribe(s, list({"chat.lobby", "ticker.btc-usd", "chat.*"}), 10);
    EXPECT_EQ(out.malformed, list({"chat.lobby", "ticker.btc-usd"}));
    EXPECT_EQ(out.added, list({"chat.*"}));  // a pattern may match nothing, as ever
}

TEST_F(RegistryTest, APendingRoomLeavesWithItsHolder) {
    const std::vector<std::string> chat{"chat"};
    Subscriber stays(1 << 20), unsubscribes(1 << 20);
    registry.subscribe(stays, list({"chat.lobby"}), 10, chat);
    registry.subscribe(unsubscribes, list({"chat.lobby", "chat.other"}), 10, chat);
    EXPECT_EQ(registry.unsubscribe(unsubscribes, list({"chat.lobby"})).removed, list({"chat.lobby"}));
    {
        // A session closing while it waits for a room: the registry must forget it (ASan would
        // report the use of a freed subscriber below otherwise).
        Subscriber closes(1 << 20);
        registry.subscribe(closes, list({"chat.lobby", "chat.other"}), 10, chat);
        registry.release(closes);
    }
    registry.ensure_topic(0, "chat.lobby", protocol::UpdateKind::published);
    registry.ensure_topic(1, "chat.other", protocol::UpdateKind::published);
    publish(0, 1);
    publish(1, 1);
    EXPECT_EQ(drain(stays), "[0:1]");
    EXPECT_EQ(drain(unsubscribes), "[1:1]");
}

TEST_F(RegistryTest, TransferHandsPendingRoomsOver) {
    const std::vector<std::string> chat{"chat"};
    Subscriber polling(1 << 20), websocket(1 << 20);
    registry.subscribe(polling, list({"chat.lobby"}), 10, chat);
    registry.transfer(polling, websocket);
    registry.ensure_topic(0, "chat.lobby", protocol::UpdateKind::published);
    publish(0, 1);
    EXPECT_EQ(drain(websocket), "[0:1]");
    EXPECT_EQ(drain(polling), "");
}

}  // namespace
}  // namespace tickgate::gateway
