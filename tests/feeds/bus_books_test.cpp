// The gateway's guard on books from the bus (feeds/bus_books.hpp): what reaches the ring is only
// ever a whole chain from a base. Each test plays the records a gateway would receive in some order
// (late join, a lost delta, a stale keyframe) and checks which changes are forwarded, in what order.
#include "feeds/bus_books.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tp = tickgate::protocol;
using tickgate::feeds::BusBookAssembler;
using Outcome = BusBookAssembler::Outcome;

namespace {

// A record body: `seq`, reset or not, with one bid level at price 100 + seq (so the forwarded
// fragments tell which change they came from).
std::string body(std::uint64_t seq, bool reset = false, std::size_t levels = 1, std::uint8_t price_decimals = 2) {
    std::vector<tp::BusBookLevel> l;
    for (std::size_t i = 0; i < levels; ++i) l.push_back({static_cast<std::int64_t>(100 + seq + i), 5, false});
    std::string out(tp::book_record_size(l.size()), '\0');
    tp::encode_book_record({price_decimals, 4, seq, static_cast<std::int64_t>(seq) * 1000, reset}, l,
                           reinterpret_cast<std::byte*>(out.data()));
    return out.substr(tp::kBusRecordHeaderSize);
}

struct Player {
    BusBookAssembler books{16, 8};
    std::vector<tp::MarketUpdate> ring;
    std::vector<std::string> keep;  // the bodies the records view

    Outcome delta(std::uint64_t seq, bool reset = false, std::size_t levels = 1) {
        keep.push_back(body(seq, reset, levels));
        return books.on_delta("book.BTC-USD", tp::BusBookRecord(keep.back()), ring);
    }
    Outcome keyframe(std::uint64_t seq, std::size_t levels = 3) {
        keep.push_back(body(seq, false, levels));  // a keyframe applies as a reset, flagged or not
        return books.on_keyframe("book.BTC-USD", tp::BusBookRecord(keep.back()), ring);
    }
    // The seqs of the changes that reached the ring (one per last fragment), after the announce.
    std::vector<std::uint64_t> changes() const {
        std::vector<std::uint64_t> seqs;
        for (const auto& u : ring)
            if (u.book.flags & tp::kBookLast) seqs.push_back(u.seq);
        return seqs;
    }
    bool reset_at(std::uint64_t seq) const {
        for (const auto& u : ring)
            if (u.seq == seq && (u.book.flags & tp::kBookFirst)) return (u.book.flags & tp::kBookReset) != 0;
        return false;
    }
};

using Seqs = std::vector<std::uint64_t>;

}  // namespace

TEST(BusBooks, AFirstSightAnnouncesTheBookWithAnEmptyChangeAtSeqZero) {
    Player p;
    EXPECT_EQ(p.delta(5), Outcome::buffered);
    ASSERT_EQ(p.ring.size(), 1u);
    EXPECT_EQ(p.ring[0].topic(), "book.BTC-USD");
    EXPECT_EQ(p.ring[0].kind, tp::UpdateKind::book);
    EXPECT_EQ(p.ring[0].seq, 0u);
    EXPECT_EQ(p.ring[0].book.count, 0);
    EXPECT_EQ(p.ring[0].book.flags, tp::kBookFirst | tp::kBookLast);
    EXPECT_FALSE(p.books.ready("book.BTC-USD"));
    EXPECT_EQ(p.books.waiting(), 1u);
    EXPECT_EQ(p.ring[0].price_decimals, 2);

    // The engine takes a book's decimals from its first change: the announce carries the record's.
    std::vector<tp::MarketUpdate> ring;
    const std::string three = body(5, false, 1, 3);
    p.books.on_delta("book.SOL-USD", tp::BusBookRecord(three), ring);
    ASSERT_EQ(ring.size(), 1u);
    EXPECT_EQ(ring[0].price_decimals, 3);
    EXPECT_EQ(ring[0].size_decimals, 4);
}

TEST(BusBooks, ALateJoinerWaitsForAKeyframeThenAppliesTheDeltasAboveIt) {
    Player p;
    // Joined while deltas 5.. flow: they wait; the keyframe at 6 is continued by 7 and 8.
    for (std::uint64_t s : {5, 6, 7, 8}) EXPECT_EQ(p.delta(s), Outcome::buffered);
    EXPECT_EQ(p.changes(), Seqs({0}));
    EXPECT_EQ(p.keyframe(6), Outcome::became_ready);
    EXPECT_EQ(p.changes(), Seqs({0, 6, 7, 8}));
    EXPECT_TRUE(p.reset_at(6)) << "a keyframe replaces the book";
    EXPECT_FALSE(p.reset_at(7));
    EXPECT_TRUE(p.books.ready("book.BTC-USD"));
    EXPECT_EQ(p.books.waiting(), 0u);
    EXPECT_EQ(p.delta(9), Outcome::forwarded);
    EXPECT_EQ(p.books.last_seq("book.BTC-USD"), 9u);
}

TEST(BusBooks, AKeyframeOlderThanTheBufferedDeltasIsNotABase) {
    Player p;
    for (std::uint64_t s : {10, 11}) p.delta(s);
    // JetStream's keyframe at 7: changes 8 and 9 are lost to this gateway, so 10 cannot follow it.
    EXPECT_EQ(p.keyframe(7), Outcome::stale_keyframe);
    EXPECT_FALSE(p.books.ready("book.BTC-USD"));
    EXPECT_EQ(p.changes(), Seqs({0}));
    // The keyframe just before the first buffered delta is one.
    EXPECT_EQ(p.keyframe(9), Outcome::became_ready);
    EXPECT_EQ(p.changes(), Seqs({0, 9, 10, 11}));
}

TEST(BusBooks, AGapStopsAReadyBookUntilAKeyframeItsDeltasContinue) {
    Player p;
    EXPECT_EQ(p.delta(1, true), Outcome::became_ready) << "a reset (the publisher's first change) is a base";
    EXPECT_EQ(p.delta(2), Outcome::forwarded);
    EXPECT_EQ(p.delta(4), Outcome::gap) << "3 was lost";
    EXPECT_EQ(p.delta(5), Outcome::buffered);
    EXPECT_FALSE(p.books.ready("book.BTC-USD"));
    EXPECT_EQ(p.changes(), Seqs({0, 1, 2})) << "nothing after the gap reaches the ring";
    EXPECT_EQ(p.keyframe(4), Outcome::became_ready);
    EXPECT_EQ(p.changes(), Seqs({0, 1, 2, 4, 5})) << "the keyframe at 4, then 5; the buffered 4 is dropped";
}

TEST(BusBooks, DuplicatesAndKeyframesABookHasAlreadyAreIgnored) {
    Player p;
    p.delta(1, true);
    p.delta(2);
    EXPECT_EQ(p.delta(2), Outcome::duplicate);
    EXPECT_EQ(p.delta(1), Outcome::duplicate);
    EXPECT_EQ(p.keyframe(2), Outcome::stale_keyframe) << "the publisher's keyframe after the delta it follows";
    EXPECT_EQ(p.changes(), Seqs({0, 1, 2}));
    // A keyframe beyond what a ready book holds means changes went missing unseen: it is the truth.
    EXPECT_EQ(p.keyframe(5), Outcome::forwarded);
    EXPECT_EQ(p.changes(), Seqs({0, 1, 2, 5}));
    EXPECT_TRUE(p.reset_at(5));
}

TEST(BusBooks, ABufferedGapAfterTheKeyframeWaitsAgain) {
    Player p;
    for (std::uint64_t s : {5, 6, 8, 9}) p.delta(s);  // 7 lost as well
    EXPECT_EQ(p.keyframe(5), Outcome::became_ready);
    EXPECT_EQ(p.changes(), Seqs({0, 5, 6}));
    EXPECT_FALSE(p.books.ready("book.BTC-USD")) << "8 does not follow 6";
    EXPECT_EQ(p.keyframe(7), Outcome::became_ready);
    EXPECT_EQ(p.changes(), Seqs({0, 5, 6, 7, 8, 9}));
}

TEST(BusBooks, AWaitingBookKeepsItsNewestDeltasAndTheBooksAreBounded) {
    Player p;  // 8 buffered per book, 16 books
    for (std::uint64_t s = 1; s <= 12; ++s) p.delta(s + 100);
    EXPECT_EQ(p.books.buffer_drops(), 4u);
    // The oldest kept is 105: a keyframe at 104 continues it.
    EXPECT_EQ(p.keyframe(103), Outcome::stale_keyframe);
    EXPECT_EQ(p.keyframe(104), Outcome::became_ready);
    EXPECT_EQ(p.books.last_seq("book.BTC-USD"), 112u);

    std::vector<std::string> keep;
    for (int i = 0; i < 20; ++i) {
        keep.push_back(body(1, true));
        const auto o = p.books.on_delta("book.S" + std::to_string(i) + "-USD", tp::BusBookRecord(keep.back()), p.ring);
        EXPECT_EQ(o, i < 15 ? Outcome::became_ready : Outcome::over_limit) << i;
    }
}

TEST(BusBooks, AChangeOfManyLevelsReachesTheRingAsOrderedFragments) {
    Player p;
    p.delta(1, true, 10);
    std::size_t levels = 0;
    std::int64_t price = 0;
    for (std::size_t i = 1; i < p.ring.size(); ++i) {
        const auto& f = p.ring[i].book;
        EXPECT_EQ(p.ring[i].topic(), "book.BTC-USD");
        EXPECT_EQ((f.flags & tp::kBookFirst) != 0, i == 1);
        EXPECT_EQ((f.flags & tp::kBookLast) != 0, i + 1 == p.ring.size());
        for (std::size_t k = 0; k < f.count; ++k, ++levels) {
            EXPECT_GT(f.price[k], price);
            price = f.price[k];
        }
    }
    EXPECT_EQ(levels, 10u);
    EXPECT_EQ(p.ring.size(), 1u + 3u);
}

TEST(BusBooks, AKeyframeBeforeAnyDeltaIsHeldUntilTheNextDeltaShowsItContinues) {
    // JetStream's keyframe at connect, read before the live deltas: held, not served.
    Player p;
    EXPECT_EQ(p.keyframe(7), Outcome::held);
    EXPECT_EQ(p.changes(), Seqs({0}));
    EXPECT_FALSE(p.books.ready("book.BTC-USD"));
    EXPECT_EQ(p.delta(6), Outcome::duplicate) << "a change the keyframe holds; it stays held";
    EXPECT_EQ(p.delta(8), Outcome::became_ready);
    EXPECT_EQ(p.changes(), Seqs({0, 7, 8}));
    EXPECT_TRUE(p.reset_at(7));

    // The live deltas start further on: the held keyframe is dropped, the next one is the base.
    Player q;
    EXPECT_EQ(q.keyframe(7), Outcome::held);
    EXPECT_EQ(q.delta(10), Outcome::buffered);
    EXPECT_EQ(q.changes(), Seqs({0})) << "a book older than the live stream is never served";
    EXPECT_EQ(q.keyframe(9), Outcome::became_ready);
    EXPECT_EQ(q.changes(), Seqs({0, 9, 10}));

    // A quiet book: the next keyframe comes with no delta between, and is its state.
    Player r;
    EXPECT_EQ(r.keyframe(7), Outcome::held);
    EXPECT_EQ(r.keyframe(7), Outcome::became_ready);
    EXPECT_EQ(r.changes(), Seqs({0, 7}));
}
