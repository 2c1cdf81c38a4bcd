#include "bench/load/client_frame.hpp"

#include <cstring>

namespace tickgate::load {

void append_client_frame(std::string& out, WsOpcode op, std::string_view payload, std::uint32_t mask_key) {
    const std::size_t n = payload.size();
    out.push_back(static_cast<char>(0x80 | static_cast<unsigned>(op)));
    if (n < 126) {
        out.push_back(static_cast<char>(0x80 | n));
    } else if (n <= 0xFFFF) {
        out.push_back(static_cast<char>(0x80 | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xFF));
    } else {
        out.push_back(static_cast<char>(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((std::uint64_t{n} >> shift) & 0xFF));
    }
    const unsigned char mask[4] = {static_cast<unsigned char>(mask_key >> 24), static_cast<unsigned char>(mask_key >> 16),
                                   static_cast<unsigned char>(mask_key >> 8), static_cast<unsigned char>(mask_key)};
    out.append(reinterpret_cast<const char*>(mask), 4);
    const std::size_t start = out.size();
    out.append(payload);
    for (std::size_t i = 0; i < n; ++i) out[start + i] = static_cast<char>(out[start + i] ^ mask[i & 3]);
}

void append_client_close(std::string& out, std::uint16_t code, std::string_view reason, std::uint32_t mask_key) {
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload.append(reason.substr(0, 123));
    append_client_frame(out, WsOpcode::close, payload, mask_key);
}

DecodeStatus decode_server_frame(std::string_view data, std::uint64_t max_payload, ServerFrame& frame,
                                 std::size_t& consumed, std::size_t& needed) noexcept {
    needed = 14;
    if (data.size() < 2) return DecodeStatus::need_more;
    const auto b0 = static_cast<unsigned char>(data[0]);
    const auto b1 = static_cast<unsigned char>(data[1]);
    if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0) return DecodeStatus::error;  // reserved bits; masked server frame
    const unsigned op = b0 & 0x0F;
    const bool control = op >= 0x8;
    if (!(op <= 0x2 || (op >= 0x8 && op <= 0xA))) return DecodeStatus::error;
    std::uint64_t len = b1 & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
        header = 4;
        if (data.size() < header) return DecodeStatus::need_more;
        len = (std::uint64_t{static_cast<unsigned char>(data[2])} << 8) | static_cast<unsigned char>(data[3]);
    } else if (len == 127) {
        header = 10;
        if (data.size() < header) return DecodeStatus::need_more;
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(data[static_cast<std::size_t>(i)]);
    }
    const bool fin = (b0 & 0x80) != 0;
    if (control && (len > 125 || !fin)) return DecodeStatus::error;
    if (len > max_payload) return DecodeStatus::error;
    needed = header + static_cast<std::size_t>(len);
    if (data.size() < needed) return DecodeStatus::need_more;
    frame.op = static_cast<WsOpcode>(op);
    frame.fin = fin;
    frame.payload = data.substr(header, static_cast<std::size_t>(len));
    consumed = needed;
    return DecodeStatus::frame;
}

std::uint16_t close_code_of(std::string_view p) noexcept {
    if (p.size() < 2) return 1005;
    return static_cast<std::uint16_t>((static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]));
}

bool MessageAssembler::add(const ServerFrame& frame, std::string_view& message, WsOpcode& op) {
    if (frame.op != WsOpcode::continuation) {
        if (in_message_) return error_ = true, false;  // a new message inside a fragmented one
        if (frame.fin) {
            message = frame.payload;
            op = frame.op;
            return true;
        }
        in_message_ = true;
        op_ = frame.op;
        parts_.assign(frame.payload);
        return false;
    }
    if (!in_message_) return error_ = true, false;
    parts_.append(frame.payload);
    if (!frame.fin) return false;
    in_message_ = false;
    message = parts_;
    op = op_;
    return true;
}

}  // namespace tickgate::load
