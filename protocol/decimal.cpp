#include "protocol/decimal.hpp"

#include <algorithm>
#include <cstring>

namespace tickgate::protocol {
namespace {

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

constexpr std::int64_t kPow10[kMaxDecimals + 1] = {
    1LL,
    10LL,
    100LL,
    1000LL,
    10000LL,
    100000LL,
    1000000LL,
    10000000LL,
    100000000LL,
    1000000000LL,
    10000000000LL,
    100000000000LL,
    1000000000000LL,
    10000000000000LL,
    100000000000000LL,
    1000000000000000LL,
    10000000000000000LL,
    100000000000000000LL,
    1000000000000000000LL,
};

int count_digits(std::uint64_t v) noexcept {
    // log10 estimated from the bit width (1233/4096 ~ log10(2)), then corrected by one compare.
    static constexpr std::uint64_t kPow10u[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
        1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
        100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
        1000000000000000000ULL, 10000000000000000000ULL,
    };
    const int t = (64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    return t + (v >= kPow10u[t]);
}

}  // namespace

std::size_t format_decimal(char* out, std::int64_t mantissa, int decimals) noexcept {
    // Out-of-range decimals are a caller bug; clamping keeps the write inside kMaxDecimalChars.
    if (decimals < 0) decimals = 0;
    if (decimals > kMaxDecimals) decimals = kMaxDecimals;

    // Unsigned negation so INT64_MIN has a representable magnitude.
    std::uint64_t u = mantissa < 0 ? 0 - static_cast<std::uint64_t>(mantissa) : static_cast<std::uint64_t>(mantissa);

    // The length is known before writing, so digits go straight to `out` from the right: going
    // through a scratch buffer made the final copy stall on store forwarding (this is the hot path).
    const int digits = std::max(count_digits(u), decimals + 1);
    const std::size_t length = static_cast<std::size_t>(digits + (mantissa < 0) + (decimals > 0));
    char* p = out + length;
    int frac = decimals;
    for (; frac >= 2; frac -= 2) {
        p -= 2;
        std::memcpy(p, kDigitPairs + (u % 100) * 2, 2);
        u /= 100;
    }
    if (frac == 1) {
        *--p = static_cast<char>('0' + u % 10);
        u /= 10;
    }
    if (decimals > 0) *--p = '.';
    while (u >= 100) {
        p -= 2;
        std::memcpy(p, kDigitPairs + (u % 100) * 2, 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        std::memcpy(p, kDigitPairs + u * 2, 2);
    } else {
        *--p = static_cast<char>('0' + u);
    }
    if (mantissa < 0) *--p = '-';
    return length;
}

std::optional<ParsedDecimal> parse_decimal(std::string_view text) noexcept {
    std::size_t i = 0;
    const bool negative = !text.empty() && text[0] == '-';
    if (negative) i = 1;

    // Accumulate the magnitude; a negative value may reach 2^63 (INT64_MIN).
    const std::uint64_t limit = negative ? static_cast<std::uint64_t>(INT64_MAX) + 1 : static_cast<std::uint64_t>(INT64_MAX);
    std::uint64_t magnitude = 0;
    int int_digits = 0;
    int frac_digits = 0;
    bool seen_point = false;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '.') {
            if (seen_point || int_digits == 0) return std::nullopt;
            seen_point = true;
            continue;
        }
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (magnitude > (limit - digit) / 10) return std::nullopt;
        magnitude = magnitude * 10 + digit;
        if (seen_point) {
            if (++frac_digits > kMaxDecimals) return std::nullopt;
        } else {
            ++int_digits;
        }
    }
    if (int_digits == 0 || (seen_point && frac_digits == 0)) return std::nullopt;

    ParsedDecimal r;
    r.decimals = frac_digits;
    r.mantissa = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    return r;
}

std::optional<std::int64_t> rescale_decimal(std::int64_t mantissa, int from_decimals, int to_decimals) noexcept {
    if (from_decimals < 0 || from_decimals > kMaxDecimals || to_decimals < 0 || to_decimals > kMaxDecimals) {
        return std::nullopt;
    }
    if (to_decimals >= from_decimals) {
        std::int64_t r = 0;
        if (__builtin_mul_overflow(mantissa, kPow10[to_decimals - from_decimals], &r)) return std::nullopt;
        return r;
    }
    const std::int64_t div = kPow10[from_decimals - to_decimals];
    if (mantissa % div != 0) return std::nullopt;
    return mantissa / div;
}

}  // namespace tickgate::protocol
