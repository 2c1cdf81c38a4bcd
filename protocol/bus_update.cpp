#include "protocol/bus_update.hpp"

#include <array>
#include <bit>
#include <cstring>

#include "protocol/topic.hpp"

namespace tickgate::protocol {
namespace {

// The record after its 4-byte header, in order: seq, ts, then the ten mantissas.
constexpr std::array<std::int64_t TickerUpdate::*, 10> kMantissas = {
    &TickerUpdate::bid,      &TickerUpdate::bid_size, &TickerUpdate::ask,
    &TickerUpdate::ask_size, &TickerUpdate::last,     &TickerUpdate::last_size,
    &TickerUpdate::open_24h, &TickerUpdate::high_24h, &TickerUpdate::low_24h,
    &TickerUpdate::volume_24h,
};
constexpr std::size_t kHeaderSize = 4;
static_assert(kHeaderSize + 8 * (2 + kMantissas.size()) == kBusUpdateSize);

// Little-endian on the wire whatever the host; on x86 and arm64 these compile to plain moves.
void put64(std::byte* p, std::uint64_t v) noexcept {
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
}

std::uint64_t get64(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
}

}  // namespace

void encode_bus_update(const TickerUpdate& u, std::byte* out) noexcept {
    out[0] = std::byte{kBusMagic};
    out[1] = std::byte{kBusVersion};
    out[2] = std::byte{u.price_decimals};
    out[3] = std::byte{u.size_decimals};
    std::byte* p = out + kHeaderSize;
    put64(p, u.seq);
    put64(p + 8, static_cast<std::uint64_t>(u.ts_ns));
    p += 16;
    for (auto member : kMantissas) {
        put64(p, static_cast<std::uint64_t>(u.*member));
        p += 8;
    }
}

BusDecodeError decode_bus_update(std::string_view data, TickerUpdate& out) noexcept {
    // Size before anything else: a record of another version may be longer, but a v1 reader has
    // no way to know what the extra bytes mean, so it rejects the version instead of guessing.
    if (data.size() < kHeaderSize) return BusDecodeError::wrong_size;
    if (static_cast<std::uint8_t>(data[0]) != kBusMagic) return BusDecodeError::bad_magic;
    if (static_cast<std::uint8_t>(data[1]) != kBusVersion) return BusDecodeError::unknown_version;
    if (data.size() != kBusUpdateSize) return BusDecodeError::wrong_size;
    const auto price_decimals = static_cast<std::uint8_t>(data[2]);
    const auto size_decimals = static_cast<std::uint8_t>(data[3]);
    // 18 places is the most an int64 mantissa can hold with a digit left of the point.
    if (price_decimals > 18 || size_decimals > 18) return BusDecodeError::bad_decimals;
    const char* p = data.data() + kHeaderSize;
    const std::uint64_t seq = get64(p);
    if (seq == 0) return BusDecodeError::zero_seq;
    out.seq = seq;
    out.ts_ns = static_cast<std::int64_t>(get64(p + 8));
    p += 16;
    for (auto member : kMantissas) {
        out.*member = static_cast<std::int64_t>(get64(p));
        p += 8;
    }
    out.price_decimals = price_decimals;
    out.size_decimals = size_decimals;
    return BusDecodeError::none;
}

std::string_view topic_from_subject(std::string_view subject) noexcept {
    const std::size_t last_dot = subject.rfind('.');
    if (last_dot == std::string_view::npos || last_dot == 0) return {};
    const std::size_t dot = subject.rfind('.', last_dot - 1);
    const std::string_view topic = dot == std::string_view::npos ? subject : subject.substr(dot + 1);
    return classify_entry(topic) == EntryKind::topic ? topic : std::string_view{};
}

const char* bus_decode_error_name(BusDecodeError e) noexcept {
    switch (e) {
    case BusDecodeError::none: return "none";
    case BusDecodeError::wrong_size: return "wrong size";
    case BusDecodeError::bad_magic: return "not a tickgate bus record";
    case BusDecodeError::unknown_version: return "unknown version";
    case BusDecodeError::bad_decimals: return "decimals over 18";
    case BusDecodeError::zero_seq: return "seq 0";
    case BusDecodeError::bad_subject: return "subject without a valid topic";
    }
    return "unknown";
}

}  // namespace tickgate::protocol
