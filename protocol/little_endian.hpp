#pragma once
// The bus formats' 64-bit fields: little-endian on the wire whatever the host; on x86 and arm64
// these compile to plain moves. Shared by the bus decoders so they cannot disagree on a byte.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace tickgate::protocol::le {

inline void store64(std::byte* p, std::uint64_t v) noexcept {
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
}

inline void append64(std::string& out, std::uint64_t v) {
    char b[8];
    store64(reinterpret_cast<std::byte*>(b), v);
    out.append(b, 8);
}

inline std::uint64_t load64(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
}

}  // namespace tickgate::protocol::le
