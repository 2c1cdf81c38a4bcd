// The load tool's per-connection books against a scripted stream. Every checksum below was
// computed by hand from protocol/README.md's rule (the text beside it, then
// python3 -c 'import zlib; print(zlib.crc32(b"TEXT"))'), not by the code under test.
#include "bench/load/book_tracker.hpp"

#include <gtest/gtest.h>

#include <string>

#include "bench/load/book_scan.hpp"
#include "bench/load/update_scan.hpp"

namespace tickgate::load {
namespace {

std::string snapshot(const char* topic, std::uint64_t seq, const char* bids, const char* asks, std::uint64_t checksum) {
    const std::string type = std::string(topic).starts_with("book50.") ? "book50" : "book";
    return R"({"type":")" + type + R"(","topic":")" + topic + R"(","seq":)" + std::to_string(seq) +
           R"(,"ts":1764090000123456789,"snapshot":true,"bids":)" + bids + R"(,"asks":)" + asks +
           R"(,"checksum":)" + std::to_string(checksum) + "}";
}

std::string delta(const char* topic, std::uint64_t seq, std::uint64_t prev, const char* bids, const char* asks,
                  std::uint64_t checksum) {
    const std::string type = std::string(topic).starts_with("book50.") ? "book50" : "book";
    return R"({"type":")" + type + R"(","topic":")" + topic + R"(","seq":)" + std::to_string(seq) +
           R"(,"prev_seq":)" + std::to_string(prev) + R"(,"ts":1764090000223456789,"snapshot":false,"bids":)" + bids +
           R"(,"asks":)" + asks + R"(,"checksum":)" + std::to_string(checksum) + "}";
}

/// Feeds one message as connection.cpp does: scan, then the tracker.
void feed(BookTracker& t, const std::string& text) {
    const auto m = scan_message(text);
    ASSERT_EQ(m.kind, ScannedMessage::Kind::update) << text;
    t.on_message(text, m, channel_of(m.topic));
}

std::string checksum_text(const ClientBook& b) {
    char text[ClientBook::kChecksumTextMax];
    return std::string(text, b.checksum_text(text));
}

TEST(BookTracker, ScriptedStreamOfSnapshotsDeltasMergesAndFaults) {
    BookTracker t;
    const char* topic = "book.BTC-USD";
    // 1. The README's snapshot.        65000.00:1.1000,65000.50:0.2000|64999.50:0.2500
    feed(t, snapshot(topic, 1000, R"([["64999.50","0.2500"]])", R"([["65000.00","1.1000"],["65000.50","0.2000"]])",
                     2541449844));
    // 2. The README's delta: an ask removed, a bid added.   65000.00:1.1000|64999.50:0.2500,64999.00:3.0000
    feed(t, delta(topic, 1003, 1000, R"([["64999.00","3.0000"]])", R"([["65000.50","0.0000"]])", 955971798));
    EXPECT_EQ(checksum_text(*t.book(topic)), "65000.00:1.1000|64999.50:0.2500,64999.00:3.0000");
    // 3. A merged delta spanning 1004..1010 (a slow client's): removes the best bid, adds one below,
    //    removes a level the client never had (allowed), adds an ask in front and one behind.
    //    64999.75:0.5000,65000.00:1.1000,65001.00:2.0000|64999.00:3.0000,64998.00:1.0000
    feed(t, delta(topic, 1010, 1003, R"([["64999.50","0.0000"],["64998.00","1.0000"],["64990.00","0.0000"]])",
                  R"([["64999.75","0.5000"],["65001.00","2.0000"]])", 4252365844));
    EXPECT_EQ(t.counts().messages, 3u);
    EXPECT_EQ(t.counts().chain_breaks, 0u);
    EXPECT_EQ(t.counts().checksum_failures, 0u);
    EXPECT_EQ(t.book(topic)->bids.depth(), 2u);
    EXPECT_EQ(t.book(topic)->asks.depth(), 3u);
    // 4. A wrong checksum: counted once; the book is known wrong until the next snapshot...
    feed(t, delta(topic, 1011, 1010, "[]", R"([["65001.00","0.0000"]])", 12345));
    EXPECT_EQ(t.counts().checksum_failures, 1u);
    // 5. ...so the next delta, chained correctly, is not checked (and not counted as a failure again).
    feed(t, delta(topic, 1012, 1011, R"([["64998.00","0.0000"]])", "[]", 1));
    EXPECT_EQ(t.counts().checksum_failures, 1u);
    EXPECT_EQ(t.counts().unverified, 1u);
    EXPECT_EQ(t.counts().chain_breaks, 0u);
    // 6. A snapshot rebuilds it.       65000.00:1.0000|64999.00:2.0000
    feed(t, snapshot(topic, 1020, R"([["64999.00","2.0000"]])", R"([["65000.00","1.0000"]])", 1649709764));
    // 7. A broken chain (prev_seq 1022, last seq 1020) whose levels still give the right checksum:
    //    one break, no failure, the book stays checked.   65000.00:1.0000|64999.00:2.5000
    feed(t, delta(topic, 1025, 1022, R"([["64999.00","2.5000"]])", "[]", 1435132662));
    EXPECT_EQ(t.counts().chain_breaks, 1u);
    EXPECT_EQ(t.counts().checksum_failures, 1u);  // still only step 4's
    // 8. An empty side.                |64999.00:2.5000
    feed(t, delta(topic, 1026, 1025, "[]", R"([["65000.00","0.0000"]])", 1235914124));
    EXPECT_EQ(checksum_text(*t.book(topic)), "|64999.00:2.5000");
    // 9. Both sides empty.             |
    feed(t, delta(topic, 1027, 1026, R"([["64999.00","0.0000"]])", "[]", 2343686810));
    // 10. A delta that changes nothing (both arrays empty) carries the same checksum.
    feed(t, delta(topic, 1030, 1027, "[]", "[]", 2343686810));

    const auto& c = t.counts();
    EXPECT_EQ(c.messages, 10u);
    EXPECT_EQ(c.snapshots, 2u);
    EXPECT_EQ(c.chain_breaks, 1u);
    EXPECT_EQ(c.checksum_failures, 1u);
    EXPECT_EQ(c.unverified, 1u);
    EXPECT_EQ(c.malformed, 0u);
    EXPECT_EQ(c.depth_exceeded, 0u);
    EXPECT_TRUE(t.book(topic)->valid);
    EXPECT_EQ(t.book(topic)->last_seq, 1030u);
}

TEST(BookTracker, ADeltaBeforeAnySnapshotIsABreakAndCannotBeChecked) {
    BookTracker t;
    const char* topic = "book.ETH-USD";
    feed(t, delta(topic, 7, 5, R"([["3000.00","1.0000"]])", "[]", 1));
    EXPECT_EQ(t.counts().chain_breaks, 1u);
    EXPECT_EQ(t.counts().unverified, 1u);
    // The chain goes on from it: the next delta chained to it is no second break.
    feed(t, delta(topic, 8, 7, "[]", "[]", 1));
    EXPECT_EQ(t.counts().chain_breaks, 1u);
    EXPECT_EQ(t.counts().unverified, 2u);
    // 65000.00:1.0000|64999.00:2.0000 (any book will do)
    feed(t, snapshot(topic, 9, R"([["64999.00","2.0000"]])", R"([["65000.00","1.0000"]])", 1649709764));
    feed(t, delta(topic, 10, 9, R"([["64999.00","2.5000"]])", "[]", 1435132662));
    EXPECT_EQ(t.counts().checksum_failures, 0u);
    EXPECT_EQ(t.counts().chain_breaks, 1u);
    EXPECT_EQ(t.counts().unverified, 2u);
    EXPECT_TRUE(t.book(topic)->valid);
}

TEST(BookTracker, MissingPrevSeqOrSeqNotAboveItBreaksTheChain) {
    BookTracker t;
    const char* topic = "book.ETH-USD";
    feed(t, snapshot(topic, 9, R"([["64999.00","2.0000"]])", R"([["65000.00","1.0000"]])", 1649709764));
    feed(t, delta(topic, 9, 9, "[]", "[]", 1649709764));  // seq not above prev_seq
    EXPECT_EQ(t.counts().chain_breaks, 1u);
    const std::string no_prev =
        R"({"type":"book","topic":"book.ETH-USD","seq":12,"ts":1,"snapshot":false,"bids":[],"asks":[],"checksum":1649709764})";
    feed(t, no_prev);
    EXPECT_EQ(t.counts().chain_breaks, 2u);
    EXPECT_EQ(t.counts().checksum_failures, 0u);
}

TEST(BookTracker, ChecksumCoversTenLevelsPerSideAndDepthIsTheViews) {
    // asks 100.00..111.00, bids 99.00..88.00: the checksum covers 100..109 and 99..90.
    std::string asks = "[", bids = "[";
    for (int i = 0; i < 12; ++i) {
        if (i > 0) asks += ',', bids += ',';
        asks.append("[\"").append(std::to_string(100 + i)).append(".00\",\"1.0000\"]");
        bids.append("[\"").append(std::to_string(99 - i)).append(".00\",\"2.0000\"]");
    }
    asks += "]";
    bids += "]";
    BookTracker t;
    feed(t, snapshot("book50.SOL-USD", 1, bids.c_str(), asks.c_str(), 959691890));
    EXPECT_EQ(t.counts().checksum_failures, 0u);
    EXPECT_EQ(t.counts().depth_exceeded, 0u);  // 12 levels fit a book50 view
    EXPECT_EQ(checksum_text(*t.book("book50.SOL-USD")),
              "100.00:1.0000,101.00:1.0000,102.00:1.0000,103.00:1.0000,104.00:1.0000,105.00:1.0000,106.00:1.0000,"
              "107.00:1.0000,108.00:1.0000,109.00:1.0000|99.00:2.0000,98.00:2.0000,97.00:2.0000,96.00:2.0000,"
              "95.00:2.0000,94.00:2.0000,93.00:2.0000,92.00:2.0000,91.00:2.0000,90.00:2.0000");
    // A level change below the 10th changes nothing checked.
    feed(t, delta("book50.SOL-USD", 2, 1, R"([["88.00","0.0000"]])", R"([["111.00","5.0000"]])", 959691890));
    EXPECT_EQ(t.counts().checksum_failures, 0u);
    // The same 12 levels on a top-10 topic are more than the view holds.
    feed(t, snapshot("book.SOL-USD", 1, bids.c_str(), asks.c_str(), 959691890));
    EXPECT_EQ(t.counts().depth_exceeded, 1u);
    EXPECT_EQ(t.counts().checksum_failures, 0u);
    EXPECT_EQ(t.topics(), 2u);
    EXPECT_EQ(t.counts(Channel::book50).messages, 2u);
    EXPECT_EQ(t.counts(Channel::book).messages, 1u);
    EXPECT_EQ(t.counts(Channel::book).depth_exceeded, 1u);
    EXPECT_EQ(t.counts().messages, 3u);
}

TEST(BookTracker, MalformedLevelsAreCountedAndTheBookIsNoLongerChecked) {
    BookTracker t;
    const char* topic = "book.BTC-USD";
    feed(t, snapshot(topic, 1, R"([["64999.00","2.0000"]])", R"([["65000.00","1.0000"]])", 1649709764));
    feed(t, delta(topic, 2, 1, R"([["sixty","2.0000"]])", "[]", 1649709764));
    EXPECT_EQ(t.counts().malformed, 1u);
    feed(t, delta(topic, 3, 2, R"([["64999.00","2.0000"])", "[]", 1649709764));  // unterminated: not checked
    EXPECT_EQ(t.counts().malformed, 1u);
    EXPECT_EQ(t.counts().unverified, 1u);
    EXPECT_EQ(t.counts().checksum_failures, 0u);
}

TEST(BookTracker, OutOfOrderLevelsInADeltaStillLandInPlace) {
    BookTracker t;
    const char* topic = "book.BTC-USD";
    feed(t, snapshot(topic, 1, R"([["64999.00","2.0000"]])", R"([["65000.00","1.0000"]])", 1649709764));
    // 65000.50 then 65000.00 (worse first) and the bid likewise; final state
    // 65000.00:1.0000,65000.50:0.3000|64999.00:2.0000 (65000.00 re-set to its own size).
    feed(t, delta(topic, 2, 1, "[]", R"([["65000.50","0.3000"],["65000.00","1.0000"]])", 3438375811));
    EXPECT_EQ(t.counts().checksum_failures, 0u);
    EXPECT_EQ(checksum_text(*t.book(topic)), "65000.00:1.0000,65000.50:0.3000|64999.00:2.0000");
}

TEST(BookSide, KeepsBestFirstAndTheExactStrings) {
    BookSide bids(true), asks(false);
    for (const char* p : {"10.5", "9.25", "11.00", "10.50"}) {
        bids.begin_message();
        ASSERT_TRUE(bids.apply(p, "1.0"));
        asks.begin_message();
        ASSERT_TRUE(asks.apply(p, "1.0"));
    }
    // "10.5" and "10.50" are one price: the later string is kept, as a client keeps what it got.
    ASSERT_EQ(bids.depth(), 3u);
    EXPECT_EQ(bids[0].price(), "11.00");
    EXPECT_EQ(bids[1].price(), "10.50");
    EXPECT_EQ(bids[2].price(), "9.25");
    EXPECT_EQ(asks[0].price(), "9.25");
    EXPECT_EQ(asks[2].price(), "11.00");
    EXPECT_EQ(asks[1].size(), "1.0");
    bids.begin_message();
    EXPECT_TRUE(bids.apply("9.250", "0"));  // removal by value
    EXPECT_EQ(bids.depth(), 2u);
    EXPECT_FALSE(bids.apply("", "1"));
    EXPECT_FALSE(bids.apply("1.2.3", "1"));
    EXPECT_FALSE(bids.apply("-1", "1"));
    EXPECT_FALSE(bids.apply("1", "x"));
}

TEST(PriceKey, OrdersExactlyIncludingLongFractions) {
    unsigned __int128 a, b;
    ASSERT_TRUE(price_key("0.000000000000000001", a));
    ASSERT_TRUE(price_key("0.000000000000000002", b));
    EXPECT_LT(a, b);
    ASSERT_TRUE(price_key("9999999999999999999.5", a));
    ASSERT_TRUE(price_key("10000000000000000000", b) == false);  // 20 integer digits: refused
    EXPECT_FALSE(price_key("0.0000000000000000001", b));          // 19 decimals: refused
    ASSERT_TRUE(price_key("65000", a));
    ASSERT_TRUE(price_key("65000.000", b));
    EXPECT_EQ(a, b);
    EXPECT_TRUE(is_zero_size("0.0000"));
    EXPECT_TRUE(is_zero_size("0"));
    EXPECT_FALSE(is_zero_size("0.0001"));
    EXPECT_FALSE(is_zero_size("."));
}

TEST(Crc32, MatchesTheReadmeExample) {
    EXPECT_EQ(crc32_of("65000.00:1.1000,65000.50:0.2000|64999.50:0.2500"), 2541449844u);
    EXPECT_EQ(crc32_of("|"), 2343686810u);
}

TEST(LevelReader, ReadsPairsWithSpacesAndStopsAtTheArraysEnd) {
    const std::string text = R"({"bids": [ [ "1.50" , "2.0" ] , ["1.25","3"] ] ,"asks":[]})";
    LevelReader r(text, find_value(text, "\"bids\":"));
    std::string_view p, s;
    ASSERT_TRUE(r.next(p, s));
    EXPECT_EQ(p, "1.50");
    EXPECT_EQ(s, "2.0");
    ASSERT_TRUE(r.next(p, s));
    EXPECT_EQ(p, "1.25");
    EXPECT_EQ(s, "3");
    EXPECT_FALSE(r.next(p, s));
    EXPECT_FALSE(r.error());
    EXPECT_EQ(text.substr(r.end(), 2), " ,");
    LevelReader e(text, find_value(text, "\"asks\":", r.end()));
    EXPECT_FALSE(e.next(p, s));
    EXPECT_FALSE(e.error());
}

TEST(LevelReader, RejectsBrokenArrays) {
    for (const std::string text :
         {R"({"bids":[["1","2"])", R"({"bids":[["1","2"]x)", R"({"bids":[["1"]]})", R"({"bids":[["1\"","2"]]})",
          R"({"bids":{}})", R"({"asks":[]})", R"({"bids":[["1","2"],]})"}) {
        LevelReader r(text, find_value(text, "\"bids\":"));
        std::string_view p, s;
        while (r.next(p, s)) {
        }
        EXPECT_TRUE(r.error()) << text;
    }
}

TEST(Channel, BooksAndTradesApartFromTickers) {
    EXPECT_EQ(channel_of("book.BTC-USD"), Channel::book);
    EXPECT_EQ(channel_of("book50.BTC-USD"), Channel::book50);
    EXPECT_EQ(channel_of("trade.BTC-USD"), Channel::trade);
    EXPECT_EQ(channel_of("ticker.BTC-USD"), Channel::ticker);
    EXPECT_EQ(channel_of("bookish.BTC-USD"), Channel::ticker);
    EXPECT_EQ(channel_of("book5.BTC-USD"), Channel::ticker);
    EXPECT_EQ(channel_of("trades.BTC-USD"), Channel::ticker);
}

}  // namespace
}  // namespace tickgate::load
