#include "feeds/replay_feed.hpp"

#include <gtest/gtest.h>

#include "tests/feeds/temp_file.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <zlib.h>

#include <optional>
#include <utility>
#include <vector>

#include "feeds/runtime/clock.hpp"

namespace tickgate::feeds {
namespace {

using namespace std::chrono_literals;

std::string line(const std::string& topic, std::int64_t ts_ms, const std::string& bid = "100.50",
                 const std::string& size = "1.5") {
    return R"({"type":"ticker","topic":")" + topic + R"(","seq":999,"ts":)" + std::to_string(ts_ms * 1'000'000) +
           R"(,"bid":")" + bid + R"(","bid_size":")" + size + R"(","ask":"101.00","ask_size":"2","last":"100.75",)"
           R"("last_size":"0.25","open_24h":"99","high_24h":"102","low_24h":"98","volume_24h":"1234.5"})";
}

using testing::TempFile;

std::unique_ptr<FeedAdapter> make(const std::string& spec, std::string& error) {
    return make_feed(spec, SimulatorOptions{}, 3, error);
}

// Runs the feed until it ends or has published `max` updates, and returns what it published.
std::vector<protocol::MarketUpdate> run_feed(FeedAdapter& feed, std::size_t max = SIZE_MAX) {
    UpdateChannel ch(1024);
    std::vector<protocol::MarketUpdate> got, batch(64);
    std::atomic<bool> ended{false};
    std::jthread t([&](std::stop_token st) {
        feed.run(st, ch);
        ended = true;
    });
    for (const auto deadline = std::chrono::steady_clock::now() + 5s;
         got.size() < max && std::chrono::steady_clock::now() < deadline;) {
        const bool was_ended = ended;
        const std::size_t n = ch.consume(batch, 10ms);
        got.insert(got.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
        if (n == 0 && was_ended) break;
    }
    // A batch may carry updates past `max` when the feed was quick (a looping replay): keep `max`.
    if (got.size() > max) got.resize(max);
    return got;
}

TEST(ReplayFeed, ReassignsSeqPerTopicAndStampsNow) {
    TempFile f({line("ticker.BTC-USD", 0), line("ticker.ETH-USD", 0), "", line("ticker.BTC-USD", 0),
                line("ticker.BTC-USD", 0)});
    std::string error;
    auto feed = make("replay:" + f.path(), error);
    ASSERT_TRUE(feed) << error;
    EXPECT_EQ(feed->name(), "replay:" + f.path());
    const auto before = runtime::realtime_ns();
    const auto got = run_feed(*feed);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].topic(), "ticker.BTC-USD");
    EXPECT_EQ(got[0].seq, 1u);
    EXPECT_EQ(got[1].topic(), "ticker.ETH-USD");
    EXPECT_EQ(got[1].seq, 1u);
    EXPECT_EQ(got[2].seq, 2u);
    EXPECT_EQ(got[3].seq, 3u);
    for (const auto& u : got) {
        EXPECT_GE(u.ts_ns, before) << "ts must be the replay time, not the recorded one";
        EXPECT_EQ(u.feed, 3);
    }
    EXPECT_EQ(got[0].bid, 10050);
    EXPECT_EQ(got[0].volume_24h, 123450);
}

TEST(ReplayFeed, PacesBySpeed) {
    TempFile f({line("ticker.BTC-USD", 1000), line("ticker.BTC-USD", 1100), line("ticker.BTC-USD", 1300)});
    std::string error;
    auto feed = make("replay:" + f.path() + ",speed=2", error);
    ASSERT_TRUE(feed) << error;
    const auto got = run_feed(*feed, 3);
    ASSERT_EQ(got.size(), 3u);
    const double gap1_ms = (got[1].ts_ns - got[0].ts_ns) / 1e6;
    const double gap2_ms = (got[2].ts_ns - got[1].ts_ns) / 1e6;
    EXPECT_NEAR(gap1_ms, 50, 15);
    EXPECT_NEAR(gap2_ms, 100, 15);
}

TEST(ReplayFeed, LoopsWithSeqContinuing) {
    TempFile f({line("ticker.BTC-USD", 0), line("ticker.BTC-USD", 5), line("ticker.ETH-USD", 10)});
    std::string error;
    auto feed = make("replay:" + f.path() + ",loop,speed=1", error);
    ASSERT_TRUE(feed) << error;
    const auto got = run_feed(*feed, 9);
    ASSERT_EQ(got.size(), 9u) << "three laps";
    std::uint64_t btc = 0, eth = 0;
    for (const auto& u : got) {
        if (u.topic() == "ticker.BTC-USD") EXPECT_EQ(u.seq, ++btc);
        else EXPECT_EQ(u.seq, ++eth);
    }
    EXPECT_EQ(btc, 6u);
    EXPECT_EQ(eth, 3u);
}

TEST(ReplayFeed, WithoutLoopRunReturnsAtTheEnd) {
    TempFile f({line("ticker.BTC-USD", 0), line("ticker.BTC-USD", 1)});
    std::string error;
    auto feed = make("replay:" + f.path(), error);
    ASSERT_TRUE(feed) << error;
    UpdateChannel ch(16);
    std::stop_source never;
    const auto t0 = std::chrono::steady_clock::now();
    feed->run(never.get_token(), ch);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
    EXPECT_EQ(ch.depth(), 2u);
}

TEST(ReplayFeed, BadLinesAreReportedWithTheirNumberAndSkipped) {
    TempFile f({
        line("ticker.BTC-USD", 0),
        "{not json",
        "",
        R"({"topic":"ticker.BTC-USD","ts":1})",            // missing fields
        line("Bad Topic", 0),                                // invalid topic
        line("ticker.BTC-USD", 1, "100.505"),               // more decimals than the topic's first line
        line("ticker.BTC-USD", 2, "100.500", "1.50000"),    // rescales exactly: fine
        line("ticker.BTC-USD", 3, "100.5"),                 // fewer decimals: rescaled up
    });
    ::testing::internal::CaptureStderr();
    std::string error;
    auto feed = make("replay:" + f.path(), error);
    const std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(feed) << error;
    const std::string prefix = "tickgate: replay " + f.path() + ":";
    EXPECT_NE(err.find(prefix + "2: "), std::string::npos) << err;
    EXPECT_NE(err.find(prefix + "4: "), std::string::npos) << err;
    EXPECT_NE(err.find(prefix + "5: "), std::string::npos) << err;
    EXPECT_NE(err.find(prefix + "6: "), std::string::npos) << err;
    EXPECT_EQ(err.find(prefix + "1: "), std::string::npos) << err;
    EXPECT_EQ(err.find(prefix + "3: "), std::string::npos) << err;
    EXPECT_EQ(err.find(prefix + "7: "), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 4) << err;

    const auto got = run_feed(*feed);
    ASSERT_EQ(got.size(), 3u);
    for (const auto& u : got) {
        EXPECT_EQ(u.price_decimals, 2);
        EXPECT_EQ(u.size_decimals, 2);
        EXPECT_EQ(u.bid, 10050);
        EXPECT_EQ(u.bid_size, 150);
    }
    EXPECT_EQ(got[2].seq, 3u) << "skipped lines take no seq";
}

// ---- Recorded books and trades -------------------------------------------------------------------

using Levels = std::vector<std::pair<std::string, std::string>>;

std::string json_levels(const Levels& levels) {
    std::string out = "[";
    for (const auto& [price, size] : levels)
        out += (out.size() > 1 ? "," : "") + ("[\"" + price + "\",\"" + size + "\"]");
    return out + "]";
}

// A book message as a v1 client records it; the checksum is zlib's crc32 of `state`, the view's
// checksum string after the message, written out by hand in each test.
std::string book_line(const std::string& topic, std::uint64_t seq, std::optional<std::uint64_t> prev_seq,
                      std::int64_t ts_ms, const Levels& bids, const Levels& asks, const std::string& state) {
    const auto checksum = crc32(0, reinterpret_cast<const Bytef*>(state.data()), static_cast<uInt>(state.size()));
    const std::string channel = topic.substr(0, topic.find('.'));
    return R"({"type":")" + channel + R"(","topic":")" + topic + R"(","seq":)" + std::to_string(seq) +
           (prev_seq ? R"(,"prev_seq":)" + std::to_string(*prev_seq) : std::string()) +
           R"(,"ts":)" + std::to_string(ts_ms * 1'000'000) + R"(,"snapshot":)" + (prev_seq ? "false" : "true") +
           R"(,"bids":)" + json_levels(bids) + R"(,"asks":)" + json_levels(asks) + R"(,"checksum":)" +
           std::to_string(checksum) + "}";
}

std::string trade_line(const std::string& topic, std::int64_t ts_ms, std::uint64_t trade_id, const std::string& price,
                       const std::string& size, const std::string& side) {
    return R"({"type":"trade","topic":")" + topic + R"(","seq":77,"ts":)" + std::to_string(ts_ms * 1'000'000) +
           R"(,"trade_id":)" + std::to_string(trade_id) + R"(,"price":")" + price + R"(","size":")" + size +
           R"(","side":")" + side + R"("})";
}

// A recorded book50 of BTC-USD whose third line breaks the chain (prev_seq 12 after seq 11), and
// whose fifth line is the next snapshot.
std::vector<std::string> broken_recording() {
    const std::string t = "book50.BTC-USD";
    return {
        book_line(t, 10, std::nullopt, 0, {{"100.00", "1.0000"}, {"99.00", "2.0000"}}, {{"101.00", "1.5000"}},
                  "101.00:1.5000|100.00:1.0000,99.00:2.0000"),
        book_line(t, 11, 10, 1, {{"99.00", "0.0000"}}, {{"102.00", "3.0000"}},
                  "101.00:1.5000,102.00:3.0000|100.00:1.0000"),
        book_line(t, 13, 12, 2, {{"100.00", "5.0000"}}, {}, "101.00:1.5000,102.00:3.0000|100.00:5.0000"),
        book_line(t, 14, 13, 3, {}, {{"101.00", "0.0000"}}, "102.00:3.0000|100.00:5.0000"),
        book_line(t, 20, std::nullopt, 4, {{"100.50", "1.0000"}}, {{"101.50", "2.0000"}},
                  "101.50:2.0000|100.50:1.0000"),
        book_line(t, 21, 20, 5, {{"100.50", "0.5000"}}, {}, "101.50:2.0000|100.50:0.5000"),
    };
}

// A book change as the ring carries it, its fragments put back together.
struct Change {
    std::uint64_t seq = 0;
    std::int64_t ts_ns = 0;
    bool reset = false;
    std::vector<std::tuple<char, std::int64_t, std::int64_t>> levels;  // ('b' or 'a', price, size)
    std::size_t fragments = 0;
};

std::vector<Change> changes_of(const std::vector<protocol::MarketUpdate>& got, std::string_view topic) {
    std::vector<Change> out;
    bool open = false;
    for (const auto& u : got) {
        if (u.kind != protocol::UpdateKind::book || u.topic() != topic) continue;
        if (u.book.flags & protocol::kBookFirst) {
            EXPECT_FALSE(open) << "a change began inside another";
            out.push_back({u.seq, u.ts_ns, (u.book.flags & protocol::kBookReset) != 0, {}, 0});
            open = true;
        }
        EXPECT_TRUE(open) << "a fragment outside a change";
        if (!open) continue;
        Change& c = out.back();
        EXPECT_EQ(u.seq, c.seq) << "every fragment carries its change's seq";
        EXPECT_EQ(u.ts_ns, c.ts_ns) << "every fragment carries its change's ts";
        EXPECT_EQ(u.price_decimals, 2);
        EXPECT_EQ(u.size_decimals, 4);
        for (std::size_t k = 0; k < u.book.count; ++k)
            c.levels.emplace_back((u.book.ask_mask >> k) & 1 ? 'a' : 'b', u.book.price[k], u.book.size[k]);
        ++c.fragments;
        if (u.book.flags & protocol::kBookLast) open = false;
    }
    EXPECT_FALSE(open) << "the last change was not finished";
    return out;
}

using L = std::tuple<char, std::int64_t, std::int64_t>;

std::unique_ptr<FeedAdapter> open_capturing(const std::string& spec, std::string& err) {
    ::testing::internal::CaptureStderr();
    std::string error;
    auto feed = make(spec, error);
    err = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(feed) << error;
    return feed;
}

TEST(ReplayFeed, BookLinesBecomeChangesOfTheSymbolsSourceBook) {
    auto lines = broken_recording();
    lines.resize(2);
    TempFile f(lines);
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_EQ(err, "");
    const auto got = run_feed(*feed);
    // The gateway derives book.<SYM> and book50.<SYM> from the source book book.<SYM>.
    const auto changes = changes_of(got, "book.BTC-USD");
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].seq, 1u);
    EXPECT_TRUE(changes[0].reset) << "a snapshot replaces the book";
    EXPECT_EQ(changes[0].levels, (std::vector<L>{{'b', 10000, 10000}, {'b', 9900, 20000}, {'a', 10100, 15000}}));
    EXPECT_EQ(changes[1].seq, 2u);
    EXPECT_FALSE(changes[1].reset);
    EXPECT_EQ(changes[1].levels, (std::vector<L>{{'b', 9900, 0}, {'a', 10200, 30000}}));
    for (const auto& u : got) EXPECT_EQ(u.feed, 3);
}

TEST(ReplayFeed, RemovalsGoFirstAndALargeChangeTakesConsecutiveFragments) {
    const std::string t = "book.ETH-USD";
    TempFile f({
        book_line(t, 1, std::nullopt, 0, {{"10.00", "1.0000"}, {"9.00", "1.0000"}, {"8.00", "1.0000"}},
                  {{"11.00", "1.0000"}, {"12.00", "1.0000"}, {"13.00", "1.0000"}},
                  "11.00:1.0000,12.00:1.0000,13.00:1.0000|10.00:1.0000,9.00:1.0000,8.00:1.0000"),
        book_line(t, 2, 1, 1, {{"10.50", "2.0000"}, {"8.00", "0.0000"}}, {{"11.00", "0.0000"}},
                  "12.00:1.0000,13.00:1.0000|10.50:2.0000,10.00:1.0000,9.00:1.0000"),
    });
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_EQ(err, "");
    const auto got = run_feed(*feed);
    const auto changes = changes_of(got, t);
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].fragments, 2u) << "six levels, four per slot";
    EXPECT_EQ(changes[0].levels.size(), 6u);
    EXPECT_EQ(changes[1].levels, (std::vector<L>{{'b', 800, 0}, {'a', 1100, 0}, {'b', 1050, 20000}}));
}

TEST(ReplayFeed, ABrokenLineIsReportedWithItsNumberAndTheBookRebuiltFromTheNextSnapshot) {
    TempFile f(broken_recording());
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    const std::string prefix = "tickgate: replay " + f.path() + ":";
    EXPECT_NE(err.find(prefix + "3: book50.BTC-USD breaks its chain (prev_seq 12, expected 11); "
                                "rebuilding from the next snapshot\n"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find(prefix + "5: book50.BTC-USD rebuilt from this snapshot (2 lines left out since line 3)\n"),
              std::string::npos)
        << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << err;
    EXPECT_EQ(dynamic_cast<ReplayFeed&>(*feed).size(), 4u);

    const auto changes = changes_of(run_feed(*feed), "book.BTC-USD");
    ASSERT_EQ(changes.size(), 4u) << "lines 1, 2, 5 and 6";
    for (std::size_t i = 0; i < changes.size(); ++i) EXPECT_EQ(changes[i].seq, i + 1) << "one chain, +1 per change";
    EXPECT_TRUE(changes[2].reset);
    EXPECT_EQ(changes[2].levels, (std::vector<L>{{'b', 10050, 10000}, {'a', 10150, 20000}}));
    EXPECT_FALSE(changes[3].reset);
    EXPECT_EQ(changes[3].levels, (std::vector<L>{{'b', 10050, 5000}}));
}

TEST(ReplayFeed, ALineThatFailsItsChecksumBreaksTheChainToo) {
    auto lines = broken_recording();
    // Line 3 chains on, but its checksum is not that of the book it leaves.
    lines[2] = book_line("book50.BTC-USD", 12, 11, 2, {{"100.00", "5.0000"}}, {}, "101.00:1.5000|100.00:5.0000");
    lines[3] = book_line("book50.BTC-USD", 13, 12, 3, {}, {{"101.00", "0.0000"}}, "102.00:3.0000|100.00:5.0000");
    TempFile f(lines);
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    const std::string ours = "101.00:1.5000,102.00:3.0000|100.00:5.0000";
    const auto expected = crc32(0, reinterpret_cast<const Bytef*>(ours.data()), static_cast<uInt>(ours.size()));
    const std::string prefix = "tickgate: replay " + f.path() + ":";
    EXPECT_NE(err.find(prefix + "3: book50.BTC-USD fails its checksum (checksum "), std::string::npos) << err;
    EXPECT_NE(err.find(", expected " + std::to_string(expected) +
                       " after applying the line); rebuilding from the next snapshot"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find(prefix + "5: book50.BTC-USD rebuilt from this snapshot (2 lines left out since line 3)"),
              std::string::npos)
        << err;
    EXPECT_EQ(changes_of(run_feed(*feed), "book.BTC-USD").size(), 4u);
}

TEST(ReplayFeed, DeltasBeforeABooksFirstSnapshotAreLeftOutAndSaidSo) {
    const auto rec = broken_recording();
    TempFile f({rec[1], rec[3], rec[4], rec[5]});
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_NE(err.find(":1: book50.BTC-USD starts with a delta (prev_seq 10, no snapshot yet); "
                       "replaying it from its first snapshot"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find(":3: book50.BTC-USD rebuilt from this snapshot (2 lines left out since line 1)"),
              std::string::npos)
        << err;
    const auto changes = changes_of(run_feed(*feed), "book.BTC-USD");
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_TRUE(changes[0].reset);
}

TEST(ReplayFeed, ABrokenChainWithoutALaterSnapshotIsReportedAtTheEnd) {
    auto lines = broken_recording();
    lines.resize(4);
    TempFile f(lines);
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_NE(err.find("tickgate: replay " + f.path() +
                       ": book50.BTC-USD: no snapshot after line 3: its last 2 lines are left out\n"),
              std::string::npos)
        << err;
    EXPECT_EQ(changes_of(run_feed(*feed), "book.BTC-USD").size(), 2u);
}

TEST(ReplayFeed, Book50LinesAreTheSourceWhenAFileHasBothViewsOfASymbol) {
    auto lines = broken_recording();
    lines.resize(2);
    // The top-10 view of the same book, recorded beside it, and a symbol with book lines alone.
    lines.push_back(book_line("book.BTC-USD", 10, std::nullopt, 0, {{"100.00", "1.0000"}}, {}, "|100.00:1.0000"));
    lines.push_back(book_line("book.BTC-USD", 11, 10, 1, {{"90.00", "1.0000"}}, {}, "|100.00:1.0000,90.00:1.0000"));
    lines.push_back(book_line("book.ETH-USD", 5, std::nullopt, 1, {{"10.00", "1.0000"}}, {}, "|10.00:1.0000"));
    TempFile f(lines);
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_EQ(err, "tickgate: replay " + f.path() +
                       ": book.BTC-USD: its 2 lines are left out: the gateway derives book.BTC-USD from "
                       "book50.BTC-USD, whose lines this file also has\n");
    const auto got = run_feed(*feed);
    const auto btc = changes_of(got, "book.BTC-USD");
    ASSERT_EQ(btc.size(), 2u);
    EXPECT_EQ(btc[0].levels.size(), 3u) << "book50's snapshot, not book's";
    const auto eth = changes_of(got, "book.ETH-USD");
    ASSERT_EQ(eth.size(), 1u);
    EXPECT_EQ(eth[0].levels, (std::vector<L>{{'b', 1000, 10000}}));
}

TEST(ReplayFeed, TradesReplayAsRecordedWithTheReplaysSeq) {
    TempFile f({
        trade_line("trade.BTC-USD", 0, 987654321, "64999.75", "0.0100", "buy"),
        line("ticker.BTC-USD", 1),
        trade_line("trade.BTC-USD", 2, 987654322, "65000.5", "0.25", "sell"),  // fewer places: rescaled up
        trade_line("trade.BTC-USD", 3, 987654323, "65000.125", "0.25", "sell"),  // more: reported
    });
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_NE(err.find(":4: price does not fit the 2 decimals of the topic's first line"), std::string::npos) << err;
    std::vector<protocol::MarketUpdate> trades;
    for (const auto& u : run_feed(*feed))
        if (u.kind == protocol::UpdateKind::trade) trades.push_back(u);
    ASSERT_EQ(trades.size(), 2u);
    EXPECT_EQ(trades[0].topic(), "trade.BTC-USD");
    EXPECT_EQ(trades[0].seq, 1u);
    EXPECT_EQ(trades[0].trade.price, 6499975);
    EXPECT_EQ(trades[0].trade.size, 100);
    EXPECT_EQ(trades[0].trade.trade_id, 987654321u);
    EXPECT_EQ(trades[0].trade.side, protocol::TradeSide::buy);
    EXPECT_EQ(trades[1].seq, 2u);
    EXPECT_EQ(trades[1].trade.price, 6500050);
    EXPECT_EQ(trades[1].trade.size, 2500);
    EXPECT_EQ(trades[1].trade.trade_id, 987654322u);
    EXPECT_EQ(trades[1].trade.side, protocol::TradeSide::sell);
    for (const auto& u : trades) {
        EXPECT_EQ(u.price_decimals, 2);
        EXPECT_EQ(u.size_decimals, 4);
    }
}

TEST(ReplayFeed, LoopingReplaysTheBookFromItsFirstSnapshotWithSeqStillRising) {
    auto lines = broken_recording();
    lines.resize(4);  // ends broken: each lap's tail is left out until the next lap's snapshot
    lines.push_back(trade_line("trade.BTC-USD", 4, 5, "100.00", "1.0000", "buy"));
    TempFile f(lines);
    std::string err;
    auto feed = open_capturing("replay:" + f.path() + ",loop,speed=10", err);
    ASSERT_TRUE(feed);
    const auto got = run_feed(*feed, 3 * 3);  // three laps of two book changes (one slot each) and a trade
    const auto changes = changes_of(got, "book.BTC-USD");
    ASSERT_EQ(changes.size(), 6u);
    for (std::size_t i = 0; i < changes.size(); ++i) {
        EXPECT_EQ(changes[i].seq, i + 1) << "seq keeps rising across laps";
        EXPECT_EQ(changes[i].reset, i % 2 == 0) << "each lap starts from the recorded snapshot";
    }
    std::uint64_t trade_seq = 0;
    for (const auto& u : got)
        if (u.kind == protocol::UpdateKind::trade) EXPECT_EQ(u.seq, ++trade_seq);
    EXPECT_EQ(trade_seq, 3u);
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << "reported once, not once per lap: " << err;
}

TEST(ReplayFeed, BadBookLinesAreReportedAndLeftOut) {
    TempFile f({
        R"({"topic":"book.BTC-USD","seq":1,"ts":0,"snapshot":true,"bids":[],"asks":[]})",
        book_line("book.ABCDEFGHIJ-KLMNOPQRST", 1, std::nullopt, 0, {}, {}, "|"),
        book_line("book.BTC-USD", 2, std::nullopt, 0, {{"1.00", "1.0000"}}, {}, "|1.00:1.0000"),
        book_line("book.BTC-USD", 3, 2, 0, {{"1.005", "1.0000"}}, {}, "|1.005:1.0000"),
    });
    std::string err;
    auto feed = open_capturing("replay:" + f.path(), err);
    ASSERT_TRUE(feed);
    EXPECT_NE(err.find(":1: field 'checksum' is required"), std::string::npos) << err;
    EXPECT_NE(err.find(":2: book.ABCDEFGHIJ-KLMNOPQRST: symbol too long for a book"), std::string::npos) << err;
    EXPECT_NE(err.find(":4: book.BTC-USD: levels do not fit the 2/4 price/size decimals"), std::string::npos) << err;
    EXPECT_EQ(changes_of(run_feed(*feed), "book.BTC-USD").size(), 1u);
}

TEST(FeedFactory, ParsesSpecsAndNamesTheProblem) {
    TempFile f({line("ticker.BTC-USD", 0)});
    std::string error;
    EXPECT_TRUE(make("sim", error)) << error;
    EXPECT_TRUE(make("replay:" + f.path() + ",speed=0.5,loop", error)) << error;

    const auto fails = [](const std::string& spec, const std::string& expected) {
        std::string e;
        EXPECT_EQ(make(spec, e), nullptr) << spec;
        EXPECT_NE(e.find(expected), std::string::npos) << spec << " -> " << e;
    };
    fails("replay:", "file name");
    fails("replay:,loop", "file name");
    fails("replay:" + f.path() + ",speed=0", "speed");
    fails("replay:" + f.path() + ",speed=-2", "speed");
    fails("replay:" + f.path() + ",speed=fast", "speed");
    fails("replay:" + f.path() + ",speed=", "speed");
    fails("replay:" + f.path() + ",speed=nan", "speed");
    fails("replay:" + f.path() + ",loop,rewind", "unknown replay option 'rewind'");
    fails("replay:/nonexistent/ticks.jsonl", "cannot read replay file /nonexistent/ticks.jsonl");
    fails("replay:" + ::testing::TempDir(), "directory");
    fails("simulator", "unknown feed 'simulator'");
    fails("nats://", "HOST:PORT");
    fails("nats://localhost", "HOST:PORT");
    fails("nats://localhost:4222,", "HOST:PORT");
    fails("nats:/localhost:4222", "unknown feed");
    EXPECT_TRUE(make("nats://127.0.0.1:4222,127.0.0.1:4223", error)) << error;  // connects only in run()
    fails("", "unknown feed");

    std::string e;
    EXPECT_EQ(make_feed("sim", SimulatorOptions{.symbols = 0}, 0, e), nullptr);
    EXPECT_NE(e.find("symbol"), std::string::npos) << e;
    EXPECT_EQ(make_feed("sim", SimulatorOptions{.rate = 0}, 0, e), nullptr);
    EXPECT_NE(e.find("rate"), std::string::npos) << e;
}

TEST(FeedFactory, FileWithoutAnyValidLineIsAnError) {
    TempFile f({"", "garbage"});
    ::testing::internal::CaptureStderr();
    std::string error;
    EXPECT_EQ(make("replay:" + f.path(), error), nullptr);
    ::testing::internal::GetCapturedStderr();
    EXPECT_NE(error.find("no valid update"), std::string::npos) << error;
}

}  // namespace
}  // namespace tickgate::feeds
