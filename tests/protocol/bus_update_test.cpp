#include "protocol/bus_update.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace tp = tickgate::protocol;
using tickgate::protocol::TickerUpdate;

namespace {

TickerUpdate sample() {
    TickerUpdate u;
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

std::string encode(const TickerUpdate& u) {
    std::array<std::byte, tp::kBusUpdateSize> buf{};
    tp::encode_bus_update(u, buf.data());
    return {reinterpret_cast<const char*>(buf.data()), buf.size()};
}

}  // namespace

TEST(BusUpdate, RoundTripsEveryField) {
    const TickerUpdate in = sample();
    TickerUpdate out;
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
    TickerUpdate out;
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
    TickerUpdate zero = sample();
    zero.seq = 0;
    EXPECT_EQ(tp::decode_bus_update(encode(zero), out), tp::BusDecodeError::zero_seq);
}

TEST(BusUpdate, RejectedRecordLeavesTheOutputAlone) {
    TickerUpdate out;
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
