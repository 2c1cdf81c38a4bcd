#pragma once
// Fixed-point decimals: prices and sizes travel as int64 mantissas with a number of decimal places,
// and reach clients as exact strings ("64999.50"), never through a binary float.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tickgate::protocol {

inline constexpr int kMaxDecimals = 18;
/// Enough for "-9223372036854775808" with a point inserted.
inline constexpr std::size_t kMaxDecimalChars = 24;

/// Writes mantissa / 10^decimals with exactly `decimals` digits after the point (no point when 0),
/// a leading "0" before the point when |value| < 1, and "-" for negatives. `out` must hold
/// kMaxDecimalChars. Returns the number of characters written. decimals must be in [0, kMaxDecimals].
std::size_t format_decimal(char* out, std::int64_t mantissa, int decimals) noexcept;

struct ParsedDecimal {
    std::int64_t mantissa = 0;
    int decimals = 0;  // digits after the point as written ("1.50" -> 2)
};

/// Parses an optional "-", digits, optionally "." and digits ("12", "0.5", "-3.250"). Rejects
/// empty strings, exponents, "+", leading/trailing junk, more than kMaxDecimals places and overflow.
std::optional<ParsedDecimal> parse_decimal(std::string_view text) noexcept;

/// Changes the number of places of a mantissa. Scaling down truncates toward zero only if no
/// non-zero digit is lost; returns nullopt when digits would be lost or the result overflows.
std::optional<std::int64_t> rescale_decimal(std::int64_t mantissa, int from_decimals, int to_decimals) noexcept;

}  // namespace tickgate::protocol
