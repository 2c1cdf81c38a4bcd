#include "protocol/decimal.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace tp = tickgate::protocol;

namespace {

std::string fmt(std::int64_t mantissa, int decimals) {
    char buf[tp::kMaxDecimalChars + 8];
    std::memset(buf, 'X', sizeof buf);
    const std::size_t n = tp::format_decimal(buf, mantissa, decimals);
    EXPECT_LE(n, tp::kMaxDecimalChars);
    EXPECT_EQ(buf[n], 'X') << "wrote past the returned length";
    return std::string(buf, n);
}

}  // namespace

TEST(FormatDecimal, FixedPlaces) {
    EXPECT_EQ(fmt(6499950, 2), "64999.50");
    EXPECT_EQ(fmt(2500, 4), "0.2500");
    EXPECT_EQ(fmt(12345678, 4), "1234.5678");
    EXPECT_EQ(fmt(100, 2), "1.00");
}

TEST(FormatDecimal, ZeroDecimalsHasNoPoint) {
    EXPECT_EQ(fmt(0, 0), "0");
    EXPECT_EQ(fmt(7, 0), "7");
    EXPECT_EQ(fmt(-42, 0), "-42");
    EXPECT_EQ(fmt(1234567890123, 0), "1234567890123");
}

TEST(FormatDecimal, ValuesBelowOne) {
    EXPECT_EQ(fmt(0, 2), "0.00");
    EXPECT_EQ(fmt(5, 3), "0.005");
    EXPECT_EQ(fmt(99, 2), "0.99");
    EXPECT_EQ(fmt(-5, 3), "-0.005");
    EXPECT_EQ(fmt(1, 18), "0.000000000000000001");
}

TEST(FormatDecimal, Negatives) {
    EXPECT_EQ(fmt(-6499950, 2), "-64999.50");
    EXPECT_EQ(fmt(-100, 2), "-1.00");
    EXPECT_EQ(fmt(-1, 1), "-0.1");
}

TEST(FormatDecimal, Extremes) {
    EXPECT_EQ(fmt(INT64_MAX, 0), "9223372036854775807");
    EXPECT_EQ(fmt(INT64_MIN, 0), "-9223372036854775808");
    EXPECT_EQ(fmt(INT64_MAX, 18), "9.223372036854775807");
    EXPECT_EQ(fmt(INT64_MIN, 18), "-9.223372036854775808");
    EXPECT_EQ(fmt(INT64_MIN, 2), "-92233720368547758.08");
    EXPECT_EQ(fmt(-1, 18), "-0.000000000000000001");
}

TEST(FormatDecimal, EveryDigitCount) {
    std::int64_t v = 1;
    std::string digits = "1";
    for (int i = 0; i < 18; ++i) {
        EXPECT_EQ(fmt(v, 0), digits);
        v = v * 10 + (i % 10);
        digits += static_cast<char>('0' + i % 10);
    }
}

TEST(ParseDecimal, Valid) {
    auto d = tp::parse_decimal("12");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, 12);
    EXPECT_EQ(d->decimals, 0);
    d = tp::parse_decimal("0.5");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, 5);
    EXPECT_EQ(d->decimals, 1);
    d = tp::parse_decimal("-3.250");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, -3250);
    EXPECT_EQ(d->decimals, 3);
    d = tp::parse_decimal("1.50");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->decimals, 2);
    d = tp::parse_decimal("-0");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, 0);
}

TEST(ParseDecimal, Limits) {
    auto d = tp::parse_decimal("9223372036854775807");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, INT64_MAX);
    d = tp::parse_decimal("-9223372036854775808");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, INT64_MIN);
    d = tp::parse_decimal("-9.223372036854775808");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->mantissa, INT64_MIN);
    EXPECT_EQ(d->decimals, 18);
    EXPECT_TRUE(tp::parse_decimal("0.000000000000000001"));
    EXPECT_FALSE(tp::parse_decimal("9223372036854775808"));
    EXPECT_FALSE(tp::parse_decimal("-9223372036854775809"));
    EXPECT_FALSE(tp::parse_decimal("0.0000000000000000001"));  // 19 places
    EXPECT_FALSE(tp::parse_decimal("123456789012345678901234567890"));
}

TEST(ParseDecimal, RejectsMalformed) {
    for (const char* bad : {"", "-", ".", "1.", ".5", "-.5", "+1", "1e3", "1E3", "1.2.3", " 1", "1 ", "1,5", "0x10",
                            "--1", "1-", "NaN", "inf", "١"}) {
        EXPECT_FALSE(tp::parse_decimal(bad)) << '"' << bad << '"';
    }
    EXPECT_FALSE(tp::parse_decimal(std::string_view("1\0", 2)));
}

TEST(ParseDecimal, RoundTripsWithFormat) {
    for (std::int64_t m : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{6499950}, INT64_MAX,
                           INT64_MIN, std::int64_t{-123456789}}) {
        for (int d = 0; d <= tp::kMaxDecimals; ++d) {
            const auto text = fmt(m, d);
            const auto parsed = tp::parse_decimal(text);
            ASSERT_TRUE(parsed) << text;
            EXPECT_EQ(parsed->mantissa, m) << text;
            EXPECT_EQ(parsed->decimals, d) << text;
        }
    }
}

TEST(RescaleDecimal, Up) {
    EXPECT_EQ(tp::rescale_decimal(5, 1, 4), 5000);
    EXPECT_EQ(tp::rescale_decimal(-5, 0, 2), -500);
    EXPECT_EQ(tp::rescale_decimal(1, 0, 18), 1000000000000000000);
    EXPECT_EQ(tp::rescale_decimal(7, 3, 3), 7);
}

TEST(RescaleDecimal, DownOnlyWithoutLoss) {
    EXPECT_EQ(tp::rescale_decimal(5000, 4, 1), 5);
    EXPECT_EQ(tp::rescale_decimal(-6500000, 4, 2), -65000);
    EXPECT_FALSE(tp::rescale_decimal(5001, 4, 1));
    EXPECT_FALSE(tp::rescale_decimal(-15, 1, 0));
    EXPECT_EQ(tp::rescale_decimal(0, 18, 0), 0);
}

TEST(RescaleDecimal, Overflow) {
    EXPECT_FALSE(tp::rescale_decimal(10, 0, 18));
    EXPECT_FALSE(tp::rescale_decimal(INT64_MAX, 0, 1));
    EXPECT_FALSE(tp::rescale_decimal(INT64_MIN, 0, 1));
    EXPECT_EQ(tp::rescale_decimal(-9, 0, 18), -9000000000000000000);
}

TEST(RescaleDecimal, RejectsOutOfRangePlaces) {
    EXPECT_FALSE(tp::rescale_decimal(1, -1, 2));
    EXPECT_FALSE(tp::rescale_decimal(1, 0, 19));
    EXPECT_FALSE(tp::rescale_decimal(1, 19, 0));
}

TEST(RescaleDecimal, RoundTrip) {
    for (std::int64_t m : {std::int64_t{0}, std::int64_t{12345}, std::int64_t{-987}}) {
        for (int from = 0; from <= 6; ++from) {
            for (int to = from; to <= 12; ++to) {
                const auto up = tp::rescale_decimal(m, from, to);
                ASSERT_TRUE(up);
                EXPECT_EQ(tp::rescale_decimal(*up, to, from), m);
            }
        }
    }
}
