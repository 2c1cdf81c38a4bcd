#include "protocol/bus_update.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/bus_publish.hpp"

namespace tp = tickgate::protocol;
using tickgate::protocol::MarketUpdate;

namespace {

MarketUpdate sample() {
    MarketUpdate u;
    u.seq = 0x0102030405060708ULL;
    u.ts_ns = 1764090000123456789;
    u.bid = 6499950;
    u.bid_size = 2500;
    u.ask = 6500000;
    u.ask_size = -11000;  // signs survive: mantissas are two's complement on the wire
    u.last = 6499975;
    u.last_size = 100;
    u.open_24h = 6300000;
    u.high_24h = 6510000;
    u.low_24h = 6290000;
    u.volume_24h = 12345678;
    u.price_decimals = 2;
    u.size_decimals = 4;
    return u;
}

std::string encode(const MarketUpdate& u) {
    std::array<std::byte, tp::kBusUpdateSize> buf{};
    tp::encode_bus_update(u, buf.data());
    return {reinterpret_cast<const char*>(buf.data()), buf.size()};
}

}  // namespace

TEST(BusUpdate, RoundTripsEveryField) {
    const MarketUpdate in = sample();
    MarketUpdate out;
    ASSERT_EQ(tp::decode_bus_update(encode(in), out), tp::BusDecodeError::none);
    EXPECT_EQ(out.seq, in.seq);
    EXPECT_EQ(out.ts_ns, in.ts_ns);
    EXPECT_EQ(out.bid, in.bid);
    EXPECT_EQ(out.bid_size, in.bid_size);
    EXPECT_EQ(out.ask, in.ask);
    EXPECT_EQ(out.ask_size, in.ask_size);
    EXPECT_EQ(out.last, in.last);
    EXPECT_EQ(out.last_size, in.last_size);
    EXPECT_EQ(out.open_24h, in.open_24h);
    EXPECT_EQ(out.high_24h, in.high_24h);
    EXPECT_EQ(out.low_24h, in.low_24h);
    EXPECT_EQ(out.volume_24h, in.volume_24h);
    EXPECT_EQ(out.price_decimals, 2);
    EXPECT_EQ(out.size_decimals, 4);
}

TEST(BusUpdate, LayoutIsLittleEndianAfterAFourByteHeader) {
    const std::string bytes = encode(sample());
    ASSERT_EQ(bytes.size(), 100u);
    EXPECT_EQ(bytes[0], 'T');
    EXPECT_EQ(bytes[1], 1);
    EXPECT_EQ(bytes[2], 2);
    EXPECT_EQ(bytes[3], 4);
    EXPECT_EQ(static_cast<unsigned char>(bytes[4]), 0x08);  // seq's lowest byte first
    EXPECT_EQ(static_cast<unsigned char>(bytes[11]), 0x01);
}

TEST(BusUpdate, RejectsForeignAndDamagedRecords) {
    MarketUpdate out;
    const std::string good = encode(sample());
    EXPECT_EQ(tp::decode_bus_update("", out), tp::BusDecodeError::wrong_size);
    EXPECT_EQ(tp::decode_bus_update(R"({"bid":"1"})", out), tp::BusDecodeError::bad_magic);
    EXPECT_EQ(tp::decode_bus_update(good.substr(0, 99), out), tp::BusDecodeError::wrong_size);
    EXPECT_EQ(tp::decode_bus_update(good + "x", out), tp::BusDecodeError::wrong_size);
    std::string v2 = good;
    v2[1] = 2;
    EXPECT_EQ(tp::decode_bus_update(v2, out), tp::BusDecodeError::unknown_version);
    std::string decimals = good;
    decimals[3] = 19;
    EXPECT_EQ(tp::decode_bus_update(decimals, out), tp::BusDecodeError::bad_decimals);
    MarketUpdate zero = sample();
    zero.seq = 0;
    EXPECT_EQ(tp::decode_bus_update(encode(zero), out), tp::BusDecodeError::zero_seq);
}

TEST(BusUpdate, RejectedRecordLeavesTheOutputAlone) {
    MarketUpdate out;
    out.seq = 7;
    out.bid = 42;
    std::string bad = encode(sample());
    bad[2] = 30;
    EXPECT_NE(tp::decode_bus_update(bad, out), tp::BusDecodeError::none);
    EXPECT_EQ(out.seq, 7u);
    EXPECT_EQ(out.bid, 42);
}

TEST(BusUpdate, TopicIsTheLastTwoTokensOfTheSubject) {
    EXPECT_EQ(tp::topic_from_subject("md.ticker.BTC-USD"), "ticker.BTC-USD");
    EXPECT_EQ(tp::topic_from_subject("venue.a.md.ticker.ETH-EUR"), "ticker.ETH-EUR");
    EXPECT_EQ(tp::topic_from_subject("ticker.BTC-USD"), "ticker.BTC-USD");
    EXPECT_EQ(tp::topic_from_subject("md.ticker.btc-usd"), "");   // symbol grammar is upper case
    EXPECT_EQ(tp::topic_from_subject("md.ticker"), "");
    EXPECT_EQ(tp::topic_from_subject("md"), "");
    EXPECT_EQ(tp::topic_from_subject(""), "");
    EXPECT_EQ(tp::topic_from_subject(".ticker.BTC-USD"), "ticker.BTC-USD");
    EXPECT_EQ(tp::topic_from_subject("md.ticker.*"), "");         // a pattern is not a topic
    EXPECT_EQ(tp::topic_from_subject("md.welcome.BTC-USD"), "");  // reserved channel
}

namespace {

std::string v2_header(std::uint64_t epoch) {
    std::array<std::byte, tp::kBusV2HeaderSize> buf{};
    tp::encode_bus_v2_header(epoch, buf.data());
    return {reinterpret_cast<const char*>(buf.data()), buf.size()};
}

std::string ticker_record(const MarketUpdate& u) {
    std::array<std::byte, tp::kBusRecordHeaderSize + tp::kTickerBodySize> buf{};
    tp::encode_ticker_record(u, buf.data());
    return {reinterpret_cast<const char*>(buf.data()), buf.size()};
}

std::string record(std::uint8_t type, std::string_view body) {
    std::string r;
    r += static_cast<char>(type);
    r += static_cast<char>(body.size() & 0xff);
    r += static_cast<char>(body.size() >> 8);
    r += body;
    return r;
}

std::vector<MarketUpdate> tickers_of(const tp::BusMessage& m) {
    std::vector<MarketUpdate> out;
    tp::for_each_ticker(m, [&](const MarketUpdate& u) { out.push_back(u); });
    return out;
}

}  // namespace

TEST(BusV2, OneTickerMessageRoundTripsWithItsEpoch) {
    const MarketUpdate in = sample();
    std::array<std::byte, tp::kBusV2TickerSize> buf{};
    tp::encode_bus_v2_ticker(in, 0xA1B2C3D4E5F60718ULL, buf.data());
    const std::string_view data(reinterpret_cast<const char*>(buf.data()), buf.size());
    ASSERT_EQ(data.size(), 111u);
    EXPECT_EQ(data[0], 'T');
    EXPECT_EQ(data[1], 2);
    EXPECT_EQ(static_cast<unsigned char>(data[2]), 0x18);  // epoch's lowest byte first
    EXPECT_EQ(data[10], 1);                               // record type: ticker
    EXPECT_EQ(data[11], 98);                              // its length, little-endian u16
    EXPECT_EQ(data[12], 0);
    // The ticker body is v1's record after magic and version, byte for byte.
    EXPECT_EQ(data.substr(13), std::string_view(encode(in)).substr(2));

    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.version, 2);
    EXPECT_EQ(m.epoch, 0xA1B2C3D4E5F60718ULL);
    EXPECT_EQ(m.tickers, 1u);
    EXPECT_EQ(m.unknown, 0u);
    const auto got = tickers_of(m);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].seq, in.seq);
    EXPECT_EQ(got[0].ts_ns, in.ts_ns);
    EXPECT_EQ(got[0].ask_size, in.ask_size);
    EXPECT_EQ(got[0].volume_24h, in.volume_24h);
    EXPECT_EQ(got[0].size_decimals, 4);
}

TEST(BusV2, AV1MessageParsesAsOneTickerWithoutAnEpoch) {
    const std::string v1 = encode(sample());  // the message views it
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(v1, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.version, 1);
    EXPECT_EQ(m.epoch, 0u);
    const auto got = tickers_of(m);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].seq, sample().seq);
    EXPECT_EQ(got[0].bid, sample().bid);
}

TEST(BusV2, UnknownTypesAreSkippedAndCountedAroundTheTickers) {
    MarketUpdate a = sample(), b = sample();
    a.seq = 10;
    b.seq = 11;
    b.bid = 1;
    const std::string data = v2_header(7) + record(6, "later") + ticker_record(a) + record(200, std::string(300, 'x')) +
                             record(8, "") + ticker_record(b);
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 2u);
    EXPECT_EQ(m.unknown, 3u);
    const auto got = tickers_of(m);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].seq, 10u);
    EXPECT_EQ(got[1].seq, 11u);
    EXPECT_EQ(got[1].bid, 1);
}

TEST(BusV2, AHeaderWithoutRecordsIsAnEmptyMessage) {
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(v2_header(1), m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 0u);
    EXPECT_TRUE(tickers_of(m).empty());
}

TEST(BusV2, DamagedMessagesAreRejectedWhole) {
    tp::BusMessage m;
    const std::string good = v2_header(9) + ticker_record(sample());
    EXPECT_EQ(tp::parse_bus_message("", m), tp::BusDecodeError::wrong_size);
    EXPECT_EQ(tp::parse_bus_message(good.substr(0, 9), m), tp::BusDecodeError::wrong_size);
    EXPECT_EQ(tp::parse_bus_message("{\"bid\":1}", m), tp::BusDecodeError::bad_magic);
    std::string v3 = good;
    v3[1] = 3;
    EXPECT_EQ(tp::parse_bus_message(v3, m), tp::BusDecodeError::unknown_version);
    // A record cut short, a dangling partial record header, a length past the end.
    EXPECT_EQ(tp::parse_bus_message(good.substr(0, good.size() - 1), m), tp::BusDecodeError::bad_record);
    EXPECT_EQ(tp::parse_bus_message(good + std::string("\x02\x00", 2), m), tp::BusDecodeError::bad_record);
    EXPECT_EQ(tp::parse_bus_message(good + record(3, "abc").substr(0, 5), m), tp::BusDecodeError::bad_record);
    // A ticker of another length is not this reader's ticker.
    EXPECT_EQ(tp::parse_bus_message(v2_header(9) + record(1, std::string(99, '\x01')), m),
              tp::BusDecodeError::bad_record);
    // A bad ticker anywhere rejects the good one before it too: nothing is half-applied.
    MarketUpdate zero = sample();
    zero.seq = 0;
    EXPECT_EQ(tp::parse_bus_message(good + ticker_record(zero), m), tp::BusDecodeError::zero_seq);
    std::string decimals = good;
    decimals[13] = 19;
    EXPECT_EQ(tp::parse_bus_message(decimals, m), tp::BusDecodeError::bad_decimals);
    m.tickers = 42;
    EXPECT_NE(tp::parse_bus_message(good + "\x01", m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 42u) << "a rejected message leaves the output alone";
}

TEST(BusV2, AV1ReaderRefusesV2ByVersion) {
    MarketUpdate out;
    std::array<std::byte, tp::kBusV2TickerSize> buf{};
    tp::encode_bus_v2_ticker(sample(), 1, buf.data());
    EXPECT_EQ(tp::decode_bus_update(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), out),
              tp::BusDecodeError::unknown_version);
}

namespace {

// A subject group of the batched live subject: the subject, then its records.
std::string group(std::string_view subject, std::string_view records) {
    std::string g(tp::subject_group_size(subject.size(), records.size()) - records.size(), '\0');
    const std::size_t n =
        tp::encode_subject_group_header(subject, records.size(), reinterpret_cast<std::byte*>(g.data()));
    EXPECT_EQ(n, g.size());
    return g + std::string(records);
}

struct Seen {
    std::string subject;
    std::uint64_t seq;
};

std::vector<Seen> grouped_tickers_of(const tp::BusMessage& m) {
    std::vector<Seen> out;
    tp::for_each_ticker(m, [&](std::string_view subject, const MarketUpdate& u) {
        out.push_back({std::string(subject), u.seq});
    });
    return out;
}

}  // namespace

TEST(BusV2Groups, ABatchCarriesSeveralSubjectsTickersInOrder) {
    MarketUpdate a = sample(), b = sample(), c = sample();
    a.seq = 5;
    b.seq = 9;
    c.seq = 6;
    const std::string data = v2_header(3) + group("md.ticker.BTC-USD", ticker_record(a)) +
                             group("md.ticker.ETH-USD", ticker_record(b)) + group("md.ticker.BTC-USD", ticker_record(c));
    // The layout: type 5, u16 length, subject length, subject, then the ticker record.
    EXPECT_EQ(data[10], 5);
    EXPECT_EQ(static_cast<unsigned char>(data[11]), 1 + 17 + 101);
    EXPECT_EQ(data[13], 17);
    EXPECT_EQ(data.substr(14, 17), "md.ticker.BTC-USD");
    EXPECT_EQ(data[31], 1);
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 3u);
    EXPECT_EQ(m.groups, 3u);
    EXPECT_EQ(m.ungrouped, 0u);
    EXPECT_EQ(m.unknown, 0u);
    const auto got = grouped_tickers_of(m);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].subject, "md.ticker.BTC-USD");
    EXPECT_EQ(got[0].seq, 5u);
    EXPECT_EQ(got[1].subject, "md.ticker.ETH-USD");
    EXPECT_EQ(got[1].seq, 9u);
    EXPECT_EQ(got[2].subject, "md.ticker.BTC-USD");
    EXPECT_EQ(got[2].seq, 6u);
    // A caller that takes only the update gets the grouped ones too.
    EXPECT_EQ(tickers_of(m).size(), 3u);
}

TEST(BusV2Groups, UngroupedTickersAreTheMessageSubjectsAndUnknownTypesInAGroupAreSkipped) {
    MarketUpdate a = sample(), b = sample();
    a.seq = 1;
    b.seq = 2;
    const std::string data = v2_header(3) + ticker_record(a) +
                             group("md.ticker.SOL-USD", record(6, "later") + ticker_record(b) + record(77, ""));
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 2u);
    EXPECT_EQ(m.ungrouped, 1u);
    EXPECT_EQ(m.groups, 1u);
    EXPECT_EQ(m.unknown, 2u);
    const auto got = grouped_tickers_of(m);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].subject, "");  // the message's own subject
    EXPECT_EQ(got[1].subject, "md.ticker.SOL-USD");
    EXPECT_EQ(got[1].seq, 2u);
    // A v1 message is one ungrouped ticker.
    tp::BusMessage v1;
    const std::string one = encode(sample());
    ASSERT_EQ(tp::parse_bus_message(one, v1), tp::BusDecodeError::none);
    EXPECT_EQ(v1.ungrouped, 1u);
    EXPECT_EQ(v1.groups, 0u);
}

TEST(BusV2Groups, DamagedGroupsRejectTheWholeMessage) {
    tp::BusMessage m;
    const std::string good_group = group("md.ticker.BTC-USD", ticker_record(sample()));
    const std::string good = v2_header(1) + good_group;
    ASSERT_EQ(tp::parse_bus_message(good, m), tp::BusDecodeError::none);
    // A group inside a group: one level only.
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + group("md.ticker.ETH-USD", good_group), m),
              tp::BusDecodeError::bad_record);
    // An empty body, a subject length past the body.
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + record(5, ""), m), tp::BusDecodeError::bad_record);
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + record(5, std::string("\x0amd.ticker", 10)), m),
              tp::BusDecodeError::bad_record);
    // A subject without a topic, a pattern, a reserved channel.
    for (std::string_view subject : {"md-live", "md.ticker.*", "md.ticker.btc-usd", "md.welcome.BTC-USD", ""})
        EXPECT_EQ(tp::parse_bus_message(v2_header(1) + group(subject, ticker_record(sample())), m),
                  tp::BusDecodeError::bad_subject)
            << subject;
    // Damage inside the group: a ticker of another length, a record running past the group's end
    // (though not past the message's), a bad ticker.
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + group("md.ticker.BTC-USD", record(1, std::string(97, '\x01'))), m),
              tp::BusDecodeError::bad_record);
    EXPECT_EQ(tp::parse_bus_message(
                  v2_header(1) + group("md.ticker.BTC-USD", ticker_record(sample()).substr(0, 50)) + std::string(60, '\0'),
                  m),
              tp::BusDecodeError::bad_record);
    MarketUpdate zero = sample();
    zero.seq = 0;
    EXPECT_EQ(tp::parse_bus_message(good + group("md.ticker.ETH-USD", ticker_record(zero)), m),
              tp::BusDecodeError::zero_seq);
    m.tickers = 42;
    EXPECT_NE(tp::parse_bus_message(good + group("md.ticker.ETH-USD", "\x01"), m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 42u) << "a rejected message leaves the output alone";
}

TEST(BusV2Groups, TheLongestSubjectFits) {
    const std::string subject = std::string(255 - 15, 'p') + ".ticker.BTC-USD";
    ASSERT_EQ(subject.size(), tp::kBusMaxGroupSubject);
    const std::string data = v2_header(1) + group(subject, ticker_record(sample()));  // the message views it
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(grouped_tickers_of(m).at(0).subject, subject);
}

TEST(NatsSubjectMatches, TheWildcardsAsNatsServerMeansThem) {
    EXPECT_TRUE(tp::nats_subject_matches("md.>", "md.ticker.BTC-USD"));
    EXPECT_TRUE(tp::nats_subject_matches("md.>", "md.x"));
    EXPECT_FALSE(tp::nats_subject_matches("md.>", "md"));  // '>' needs a token
    EXPECT_FALSE(tp::nats_subject_matches("md.>", "mdx.ticker.BTC-USD"));
    EXPECT_TRUE(tp::nats_subject_matches(">", "md.ticker.BTC-USD"));
    EXPECT_TRUE(tp::nats_subject_matches("md.ticker.BTC-USD", "md.ticker.BTC-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("md.ticker.BTC-USD", "md.ticker.ETH-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("md.ticker.BTC", "md.ticker.BTC-USD"));  // whole tokens
    EXPECT_FALSE(tp::nats_subject_matches("md.ticker.BTC-USD", "md.ticker.BTC-USD.x"));
    EXPECT_FALSE(tp::nats_subject_matches("md.ticker.BTC-USD.x", "md.ticker.BTC-USD"));
    EXPECT_TRUE(tp::nats_subject_matches("md.*.BTC-USD", "md.ticker.BTC-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("md.*.BTC-USD", "md.ticker.ETH-USD"));
    EXPECT_TRUE(tp::nats_subject_matches("md.ticker.*", "md.ticker.ETH-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("md.ticker.*", "md.ticker.ETH-USD.x"));
    EXPECT_FALSE(tp::nats_subject_matches("md.*", "md.ticker.ETH-USD"));
    EXPECT_TRUE(tp::nats_subject_matches("*.*.*", "md.ticker.ETH-USD"));
    EXPECT_TRUE(tp::nats_subject_matches("venue.md.>", "venue.md.ticker.ETH-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("venue.md.>", "md.ticker.ETH-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("", "md.ticker.ETH-USD"));
    EXPECT_FALSE(tp::nats_subject_matches("md.>", ""));
}

namespace {

std::string book_record(const tp::BusBookChange& c, const std::vector<tp::BusBookLevel>& levels) {
    std::string out(tp::book_record_size(levels.size()), '\0');
    tp::encode_book_record(c, levels, reinterpret_cast<std::byte*>(out.data()));
    return out;
}

std::string trade_record(const MarketUpdate& u) {
    std::string out(tp::kBusRecordHeaderSize + tp::kTradeBodySize, '\0');
    tp::encode_trade_record(u, reinterpret_cast<std::byte*>(out.data()));
    return out;
}

std::vector<tp::BusBookLevel> ladder(std::size_t n) {
    std::vector<tp::BusBookLevel> levels;
    for (std::size_t i = 0; i < n; ++i)
        levels.push_back({static_cast<std::int64_t>(i % 2 ? 100000 + i : 99999 - i), static_cast<std::int64_t>(i * 7),
                          i % 2 == 1});
    return levels;
}

MarketUpdate sample_trade() {
    MarketUpdate u;
    u.kind = tp::UpdateKind::trade;
    u.seq = 42;
    u.ts_ns = 1764090000123456789;
    u.price_decimals = 2;
    u.size_decimals = 4;
    u.trade = {6499975, 100, 987654321, tp::TradeSide::sell};
    return u;
}

}  // namespace

TEST(BusV2Books, ABookRecordRoundTripsItsChangeAndLevelsInOrder) {
    const tp::BusBookChange c{3, 5, 1001, 1764090000123456789, true};
    const auto levels = ladder(9);
    const std::string data = v2_header(7) + book_record(c, levels);
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.books, 1u);
    EXPECT_EQ(m.tickers, 0u);
    EXPECT_EQ(m.ungrouped, 1u);
    int seen = 0;
    tp::for_each_record(m, [&](std::string_view subject, tp::BusRecordType type, std::string_view body) {
        ++seen;
        EXPECT_TRUE(subject.empty());
        ASSERT_EQ(type, tp::BusRecordType::book_delta);
        const tp::BusBookRecord r(body);
        const auto got = r.change();
        EXPECT_EQ(got.price_decimals, 3);
        EXPECT_EQ(got.size_decimals, 5);
        EXPECT_EQ(got.seq, 1001u);
        EXPECT_EQ(got.ts_ns, c.ts_ns);
        EXPECT_TRUE(got.reset);
        ASSERT_EQ(r.level_count(), levels.size());
        for (std::size_t i = 0; i < levels.size(); ++i) EXPECT_EQ(r.level(i), levels[i]) << i;
    });
    EXPECT_EQ(seen, 1);
    EXPECT_TRUE(tickers_of(m).empty()) << "a book record is not a ticker";
}

TEST(BusV2Books, ARecordBecomesRingFragmentsOfFourLevelsFlaggedFirstAndLast) {
    const auto levels = ladder(9);
    const std::string body = book_record({2, 4, 77, 5, true}, levels).substr(tp::kBusRecordHeaderSize);
    std::vector<MarketUpdate> frags;
    tp::for_each_book_fragment(tp::BusBookRecord(body), [&](const MarketUpdate& u) { frags.push_back(u); });
    ASSERT_EQ(frags.size(), 3u);
    EXPECT_EQ(frags[0].book.flags, tp::kBookFirst | tp::kBookReset);
    EXPECT_EQ(frags[1].book.flags, 0);
    EXPECT_EQ(frags[2].book.flags, tp::kBookLast);
    std::vector<tp::BusBookLevel> back;
    for (const auto& f : frags) {
        EXPECT_EQ(f.kind, tp::UpdateKind::book);
        EXPECT_EQ(f.seq, 77u);
        EXPECT_EQ(f.ts_ns, 5);
        for (std::size_t i = 0; i < f.book.count; ++i)
            back.push_back({f.book.price[i], f.book.size[i], ((f.book.ask_mask >> i) & 1) != 0});
    }
    EXPECT_EQ(back, levels);

    // A change without levels (what announces a book) is one fragment, first and last; no reset
    // unless the record says so.
    const std::string empty = book_record({2, 4, 78, 5, false}, {}).substr(tp::kBusRecordHeaderSize);
    frags.clear();
    tp::for_each_book_fragment(tp::BusBookRecord(empty), [&](const MarketUpdate& u) { frags.push_back(u); });
    ASSERT_EQ(frags.size(), 1u);
    EXPECT_EQ(frags[0].book.flags, tp::kBookFirst | tp::kBookLast);
    EXPECT_EQ(frags[0].book.count, 0);
    // Exactly four levels fit one fragment.
    const std::string four = book_record({2, 4, 79, 5, false}, ladder(4)).substr(tp::kBusRecordHeaderSize);
    frags.clear();
    tp::for_each_book_fragment(tp::BusBookRecord(four), [&](const MarketUpdate& u) { frags.push_back(u); });
    ASSERT_EQ(frags.size(), 1u);
    EXPECT_EQ(frags[0].book.flags, tp::kBookFirst | tp::kBookLast);
}

TEST(BusV2Books, DamagedBookRecordsRejectTheMessage) {
    tp::BusMessage m;
    const std::string good = book_record({2, 4, 5, 1, false}, ladder(2));
    ASSERT_EQ(tp::parse_bus_message(v2_header(1) + good, m), tp::BusDecodeError::none);
    auto damaged = [&](auto&& edit) {
        std::string r = good;
        edit(r);
        return tp::parse_bus_message(v2_header(1) + r, m);
    };
    constexpr std::size_t body = tp::kBusRecordHeaderSize;
    EXPECT_EQ(damaged([&](std::string& r) { r[body] = 19; }), tp::BusDecodeError::bad_decimals);
    EXPECT_EQ(damaged([&](std::string& r) { std::fill(r.begin() + body + 2, r.begin() + body + 10, '\0'); }),
              tp::BusDecodeError::zero_seq);
    EXPECT_EQ(damaged([&](std::string& r) { r[body + 18] = 2; }), tp::BusDecodeError::bad_record) << "unknown flag";
    EXPECT_EQ(damaged([&](std::string& r) { r[body + 19] = 3; }), tp::BusDecodeError::bad_record) << "count != levels";
    EXPECT_EQ(damaged([&](std::string& r) { r[body + 21] = 2; }), tp::BusDecodeError::bad_record) << "no such side";
    EXPECT_EQ(damaged([&](std::string& r) { r[body + 21 + 9 + 7] = '\x80'; }), tp::BusDecodeError::bad_record)
        << "negative size";
    EXPECT_EQ(damaged([&](std::string& r) { std::fill(r.begin() + body + 22, r.begin() + body + 30, '\0'); }),
              tp::BusDecodeError::bad_record) << "price 0";
    EXPECT_EQ(damaged([&](std::string& r) {
                  r.pop_back();
                  r[1] = static_cast<char>(r.size() - body);
              }),
              tp::BusDecodeError::bad_record) << "a level cut short";
}

TEST(BusV2Trades, ATradeRecordRoundTripsEveryField) {
    const MarketUpdate in = sample_trade();
    tp::BusMessage m;
    const std::string data = v2_header(3) + trade_record(in);  // m views it
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.trades, 1u);
    int seen = 0;
    tp::for_each_record(m, [&](std::string_view, tp::BusRecordType type, std::string_view body) {
        ++seen;
        ASSERT_EQ(type, tp::BusRecordType::trade);
        MarketUpdate out;
        tp::decode_trade_body(body, out);
        EXPECT_EQ(out.kind, tp::UpdateKind::trade);
        EXPECT_EQ(out.seq, 42u);
        EXPECT_EQ(out.ts_ns, in.ts_ns);
        EXPECT_EQ(out.trade.price, 6499975);
        EXPECT_EQ(out.trade.size, 100);
        EXPECT_EQ(out.trade.trade_id, 987654321u);
        EXPECT_EQ(out.trade.side, tp::TradeSide::sell);
        EXPECT_EQ(out.price_decimals, 2);
        EXPECT_EQ(out.size_decimals, 4);
    });
    EXPECT_EQ(seen, 1);
    std::string bad = trade_record(in);
    bad[tp::kBusRecordHeaderSize + 42] = 2;
    EXPECT_EQ(tp::parse_bus_message(v2_header(3) + bad, m), tp::BusDecodeError::bad_record) << "no such side";
    bad = trade_record(in) + "x";
    bad[1] = static_cast<char>(tp::kTradeBodySize + 1);
    EXPECT_EQ(tp::parse_bus_message(v2_header(3) + bad, m), tp::BusDecodeError::bad_record) << "a longer trade";
}

TEST(BusV2Groups, BooksAndTradesTravelInGroupsBesideTickers) {
    const std::string book = book_record({2, 4, 9, 1, false}, ladder(3));
    const std::string trade = trade_record(sample_trade());
    const std::string data = v2_header(1) + group("md.book.BTC-USD", book) + group("md.trade.BTC-USD", trade) +
                             group("md.ticker.BTC-USD", ticker_record(sample()));
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.books, 1u);
    EXPECT_EQ(m.trades, 1u);
    EXPECT_EQ(m.tickers, 1u);
    EXPECT_EQ(m.ungrouped, 0u);
    std::vector<std::pair<std::string, tp::BusRecordType>> got;
    tp::for_each_record(m, [&](std::string_view subject, tp::BusRecordType type, std::string_view) {
        got.emplace_back(subject, type);
    });
    const std::vector<std::pair<std::string, tp::BusRecordType>> want = {
        {"md.book.BTC-USD", tp::BusRecordType::book_delta},
        {"md.trade.BTC-USD", tp::BusRecordType::trade},
        {"md.ticker.BTC-USD", tp::BusRecordType::ticker}};
    EXPECT_EQ(got, want);
}

namespace {

tp::PublishedMessage chat_message(std::uint64_t seq, std::string from = "alice", std::string data = R"({"text":"hi"})") {
    tp::PublishedMessage m;
    m.topic = "chat.lobby";
    m.from = std::move(from);
    m.data = std::move(data);
    m.seq = seq;
    m.ts_ns = 1764090000123456789;
    return m;
}

std::string client_message_record(const tp::PublishedMessage& m) {
    std::string r(tp::client_message_record_size(m.from.size(), m.data.size()), '\0');
    tp::encode_client_message_record(m, reinterpret_cast<std::byte*>(r.data()));
    return r;
}

struct SeenMessage {
    std::string subject, from, data;
    std::uint64_t seq;
    std::int64_t ts_ns;
};

std::vector<SeenMessage> client_messages_of(const tp::BusMessage& m) {
    std::vector<SeenMessage> out;
    tp::for_each_client_message(m, [&](std::string_view subject, const tp::BusClientMessage& c) {
        out.push_back({std::string(subject), std::string(c.from), std::string(c.data), c.seq, c.ts_ns});
    });
    return out;
}

}  // namespace

TEST(BusV2ClientMessages, ARecordRoundTripsSeqTsFromAndTheDataByteForByte) {
    // Whitespace and key order as the client sent them: the data is never re-serialized.
    const auto in = chat_message(0x0102030405060708ULL, "anon:5f0c", R"( {"b":1, "a":[true,null,"é"]} )");
    const std::string rec = client_message_record(in);
    ASSERT_EQ(rec.size(), 3u + 18 + 9 + in.data.size());
    EXPECT_EQ(rec[0], 4);                                                 // type
    EXPECT_EQ(static_cast<unsigned char>(rec[1]), 18 + 9 + in.data.size());  // u16 length
    EXPECT_EQ(rec[2], 0);
    EXPECT_EQ(static_cast<unsigned char>(rec[3]), 0x08);                  // seq, lowest byte first
    EXPECT_EQ(rec[19], 9);                                                // from's length
    EXPECT_EQ(rec.substr(21, 9), "anon:5f0c");
    EXPECT_EQ(rec.substr(30), in.data);

    const std::string data = v2_header(5) + rec;  // the message views it
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.client_messages, 1u);
    EXPECT_EQ(m.ungrouped_client_messages, 1u);
    EXPECT_EQ(m.ungrouped, 0u) << "no market record for the subject's topic";
    EXPECT_EQ(m.unknown, 0u);
    EXPECT_TRUE(tickers_of(m).empty());
    std::size_t market = 0;
    tp::for_each_record(m, [&](std::string_view, tp::BusRecordType, std::string_view) { ++market; });
    EXPECT_EQ(market, 0u) << "market readers never see a client message";
    const auto got = client_messages_of(m);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].subject, "");
    EXPECT_EQ(got[0].seq, in.seq);
    EXPECT_EQ(got[0].ts_ns, in.ts_ns);
    EXPECT_EQ(got[0].from, in.from);
    EXPECT_EQ(got[0].data, in.data);
}

TEST(BusV2ClientMessages, TheLargestMessageFitsItsRecord) {
    const std::string data = "\"" + std::string(tp::kMaxPublishedData - 2, 'x') + "\"";
    const auto in = chat_message(1, std::string(tp::kMaxPublishedFrom, 'u'), data);
    const std::string msg = v2_header(1) + client_message_record(in);
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(msg, m), tp::BusDecodeError::none);
    ASSERT_EQ(client_messages_of(m).size(), 1u);
    EXPECT_EQ(client_messages_of(m)[0].data.size(), tp::kMaxPublishedData);
    EXPECT_EQ(client_messages_of(m)[0].from.size(), tp::kMaxPublishedFrom);
}

TEST(BusV2ClientMessages, DamagedRecordsRejectTheMessageWhole) {
    tp::BusMessage m;
    const std::string ticker = ticker_record(sample());
    const auto body_of = [](const std::string& rec) { return rec.substr(3); };
    const std::string good = body_of(client_message_record(chat_message(3)));
    ASSERT_EQ(tp::parse_bus_message(v2_header(1) + record(4, good), m), tp::BusDecodeError::none);
    // Shorter than its header; a from length past the body.
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + record(4, good.substr(0, 17)), m), tp::BusDecodeError::bad_record);
    std::string from_past = good;
    from_past[16] = static_cast<char>(0xff);
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + record(4, from_past), m), tp::BusDecodeError::bad_record);
    // seq 0: the publisher never assigns it.
    EXPECT_EQ(tp::parse_bus_message(v2_header(1) + client_message_record(chat_message(0)), m), tp::BusDecodeError::zero_seq);
    // Data that is not one JSON value, over the limit, or empty; a sender's name that is empty, not
    // UTF-8 or with a control character. A ticker beside them does not get through either.
    for (const std::string& data : {std::string(R"({"text":"hi")"), std::string("1 2"), std::string(""),
                                    std::string("\"\xff\""), std::string(R"("a)") + '\0' + "\"",
                                    "\"" + std::string(tp::kMaxPublishedData - 1, 'x') + "\"",
                                    std::string(33, '[') + std::string(33, ']')})
        EXPECT_EQ(tp::parse_bus_message(v2_header(1) + ticker + client_message_record(chat_message(4, "bob", data)), m),
                  tp::BusDecodeError::bad_record)
            << data.substr(0, 40);
    for (const std::string& from : {std::string(""), std::string("\xc3"), std::string("a\nb")})
        EXPECT_EQ(tp::parse_bus_message(v2_header(1) + client_message_record(chat_message(4, from)), m),
                  tp::BusDecodeError::bad_record)
            << from;
    // 32 levels deep is still a JSON value the gateway takes.
    EXPECT_EQ(tp::parse_bus_message(
                  v2_header(1) + client_message_record(chat_message(4, "bob", std::string(32, '[') + std::string(32, ']'))), m),
              tp::BusDecodeError::none);
}

TEST(BusV2ClientMessages, InABatchEachRecordStandsUnderASubjectOfItsKind) {
    MarketUpdate t = sample();
    t.seq = 8;
    const std::string data = v2_header(2) + group("md.ticker.BTC-USD", ticker_record(t)) +
                             group("md.chat.lobby", client_message_record(chat_message(11))) +
                             group("md.support.room-7", client_message_record(chat_message(1, "carol")));
    tp::BusMessage m;
    ASSERT_EQ(tp::parse_bus_message(data, m), tp::BusDecodeError::none);
    EXPECT_EQ(m.tickers, 1u);
    EXPECT_EQ(m.client_messages, 2u);
    EXPECT_EQ(m.ungrouped_client_messages, 0u);
    EXPECT_EQ(m.groups, 3u);
    const auto got = client_messages_of(m);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].subject, "md.chat.lobby");
    EXPECT_EQ(got[0].seq, 11u);
    EXPECT_EQ(got[1].subject, "md.support.room-7");
    EXPECT_EQ(got[1].from, "carol");
    EXPECT_EQ(grouped_tickers_of(m).at(0).subject, "md.ticker.BTC-USD");
    // A chat message under a market topic's subject, a ticker under a room's, a client message
    // under a market-data channel's room or a subject naming neither: rejected whole.
    EXPECT_EQ(tp::parse_bus_message(v2_header(2) + group("md.ticker.BTC-USD", client_message_record(chat_message(1))), m),
              tp::BusDecodeError::bad_subject);
    EXPECT_EQ(tp::parse_bus_message(v2_header(2) + group("md.chat.lobby", ticker_record(t)), m),
              tp::BusDecodeError::bad_subject);
    for (std::string_view subject : {"md.trade.lobby", "md.chat.Lobby", "md.chat.room-of-21-characters", "md-publish"})
        EXPECT_EQ(tp::parse_bus_message(v2_header(2) + group(subject, client_message_record(chat_message(1))), m),
                  tp::BusDecodeError::bad_subject)
            << subject;
}
