#include "protocol/base64.hpp"

#include <array>
#include <cstdint>

namespace tickgate::protocol {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) v = kInvalid;
    for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
    return t;
}
constexpr auto kDecode = make_decode_table();

std::uint8_t symbol(char c) noexcept { return kDecode[static_cast<unsigned char>(c)]; }

}  // namespace

void append_base64(std::string_view bytes, std::string& out) {
    out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                                static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                                static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 0) return;
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
}

bool append_base64_decoded(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0) return false;
    out.reserve(out.size() + text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        // '=' may only end the text: "xx==" (one byte) or "xxx=" (two bytes).
        const std::size_t pad = !last ? 0 : text[i + 3] != '=' ? 0 : text[i + 2] == '=' ? 2 : 1;
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4 - pad; ++k) {
            const std::uint8_t s = symbol(text[i + k]);
            if (s == kInvalid) return false;
            v |= static_cast<std::uint32_t>(s) << (18 - 6 * k);
        }
        out += static_cast<char>(v >> 16);
        if (pad == 2) {
            if ((v & 0xFFFF) != 0) return false;  // non-canonical: bits beyond the last byte set
            break;
        }
        out += static_cast<char>((v >> 8) & 0xFF);
        if (pad == 1) {
            if ((v & 0xFF) != 0) return false;
            break;
        }
        out += static_cast<char>(v & 0xFF);
    }
    return true;
}

}  // namespace tickgate::protocol
