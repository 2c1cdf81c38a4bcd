#include "protocol/websocket_frame.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "protocol/utf8.hpp"

namespace tickgate::protocol {
namespace {

constexpr std::size_t kMaxControlPayload = 125;

bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

/// Full length of a masked client header, known once its second byte is in.
std::size_t header_length(unsigned char b1) noexcept {
    const unsigned len7 = b1 & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

bool is_valid_close_code(std::uint16_t code) noexcept {
    // RFC 6455 §7.4: 1004-1006 and 1015 are reserved or must not be sent; 1012-1014 were
    // registered with IANA later; 3000-4999 belong to libraries and applications.
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

void unmask_append(std::string& dest, const char* src, std::size_t n, const unsigned char mask[4],
                   std::size_t offset) {
    const std::size_t old = dest.size();
    dest.append(src, n);
    char* p = dest.data() + old;
    unsigned char key_bytes[8];
    for (std::size_t i = 0; i < 8; ++i) key_bytes[i] = mask[(offset + i) & 3];
    std::uint64_t key;
    std::memcpy(&key, key_bytes, 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        w ^= key;
        std::memcpy(p + i, &w, 8);
    }
    for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key_bytes[i & 7]);
}

}  // namespace

std::size_t write_frame_header(std::uint8_t* out, Opcode op, std::size_t payload_size) noexcept {
    out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
    if (payload_size <= 125) {
        out[1] = static_cast<std::uint8_t>(payload_size);
        return 2;
    }
    if (payload_size <= 0xFFFF) {
        out[1] = 126;
        out[2] = static_cast<std::uint8_t>(payload_size >> 8);
        out[3] = static_cast<std::uint8_t>(payload_size);
        return 4;
    }
    out[1] = 127;
    const auto n = static_cast<std::uint64_t>(payload_size);
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
    return 10;
}

void append_frame(std::string& out, Opcode op, std::string_view payload) {
    std::uint8_t header[kMaxFrameHeader];
    const std::size_t n = write_frame_header(header, op, payload.size());
    out.reserve(out.size() + n + payload.size());
    out.append(reinterpret_cast<const char*>(header), n);
    out.append(payload);
}

void append_close_frame(std::string& out, std::uint16_t code, std::string_view reason) {
    // Cut on a character boundary: a close reason must stay valid UTF-8.
    const std::string_view cut = utf8_truncate(reason, kMaxControlPayload - 2);
    char payload[kMaxControlPayload];
    payload[0] = static_cast<char>(code >> 8);
    payload[1] = static_cast<char>(code & 0xFF);
    std::memcpy(payload + 2, cut.data(), cut.size());
    append_frame(out, Opcode::close, std::string_view(payload, 2 + cut.size()));
}

FrameReader::FrameReader(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

bool FrameReader::fail(FrameError e) noexcept {
    error_ = e;
    return false;
}

bool FrameReader::check_first_bytes(unsigned char b0, unsigned char b1) noexcept {
    if ((b0 & 0x70) != 0) return fail(FrameError::protocol_error);  // no extension negotiated
    const auto op = static_cast<Opcode>(b0 & 0x0F);
    switch (op) {
        case Opcode::continuation:
            if (!in_fragmented_) return fail(FrameError::protocol_error);
            break;
        case Opcode::text:
        case Opcode::binary:
            if (in_fragmented_) return fail(FrameError::protocol_error);
            break;
        case Opcode::close:
        case Opcode::ping:
        case Opcode::pong:
            if ((b0 & 0x80) == 0 || (b1 & 0x7F) > kMaxControlPayload) return fail(FrameError::protocol_error);
            break;
        default:
            return fail(FrameError::protocol_error);
    }
    if ((b1 & 0x80) == 0) return fail(FrameError::protocol_error);  // clients must mask
    return true;
}

bool FrameReader::start_frame(const unsigned char* h) {
    const unsigned len7 = h[1] & 0x7F;
    std::uint64_t len = len7;
    const unsigned char* mask = h + 2;
    if (len7 == 126) {
        len = (std::uint64_t{h[2]} << 8) | h[3];
        mask = h + 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
        if (len >> 63) return fail(FrameError::protocol_error);
        mask = h + 10;
    }
    frame_op_ = static_cast<Opcode>(h[0] & 0x0F);
    frame_fin_ = (h[0] & 0x80) != 0;

    if (is_control(frame_op_)) {
        control_.clear();
    } else {
        // Checked before any payload is buffered, so an oversized message costs no memory.
        const std::size_t so_far = frame_op_ == Opcode::continuation ? message_.size() : 0;
        if (len > max_message_bytes_ - std::min(so_far, max_message_bytes_)) return fail(FrameError::too_big);
        if (frame_op_ != Opcode::continuation) {
            message_.clear();
            in_fragmented_ = true;
            fragmented_op_ = frame_op_;
        }
        message_.reserve(so_far + static_cast<std::size_t>(len));
    }
    std::memcpy(mask_, mask, 4);
    remaining_ = len;
    mask_offset_ = 0;
    have_header_ = true;
    return true;
}

bool FrameReader::read_header(std::string_view& data) {
    const auto byte = [](const char c) { return static_cast<unsigned char>(c); };
    // Fast path: the whole header is in the input, nothing is buffered.
    if (frame_.empty() && data.size() >= 2) {
        if (!check_first_bytes(byte(data[0]), byte(data[1]))) return false;
        const std::size_t need = header_length(byte(data[1]));
        if (data.size() >= need) {
            const bool ok = start_frame(reinterpret_cast<const unsigned char*>(data.data()));
            data.remove_prefix(need);
            return ok;
        }
    }
    while (true) {
        const bool have_two = frame_.size() >= 2;
        const std::size_t need = have_two ? header_length(byte(frame_[1])) : 2;
        const std::size_t take = std::min(need - frame_.size(), data.size());
        frame_.append(data.data(), take);
        data.remove_prefix(take);
        if (frame_.size() < need) return false;
        if (!have_two) {
            if (!check_first_bytes(byte(frame_[0]), byte(frame_[1]))) return false;
            continue;
        }
        const bool ok = start_frame(reinterpret_cast<const unsigned char*>(frame_.data()));
        frame_.clear();
        return ok;
    }
}

bool FrameReader::finish_control(ClientMessage& msg) {
    msg = ClientMessage{};
    msg.payload = control_;
    switch (frame_op_) {
        case Opcode::ping: msg.kind = ClientMessage::Kind::ping; return true;
        case Opcode::pong: msg.kind = ClientMessage::Kind::pong; return true;
        default: break;
    }
    msg.kind = ClientMessage::Kind::close;
    if (control_.empty()) {
        msg.close_code = 1005;
        return true;
    }
    if (control_.size() == 1) return fail(FrameError::protocol_error);
    msg.close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(control_[0]) << 8) |
                                                static_cast<unsigned char>(control_[1]));
    if (!is_valid_close_code(msg.close_code)) return fail(FrameError::protocol_error);
    msg.close_reason = std::string_view(control_).substr(2);
    if (!is_valid_utf8(msg.close_reason)) return fail(FrameError::invalid_utf8);
    return true;
}

bool FrameReader::next(std::string_view& data, ClientMessage& msg) {
    // What the last call returned has been handled by now. Its storage goes back to the allocator
    // instead of staying reserved at the largest size this client ever sent. A control frame
    // between two fragments leaves message_ alone: it then holds a message in progress.
    if (std::exchange(returned_message_, false)) std::string().swap(message_);
    if (std::exchange(returned_control_, false)) std::string().swap(control_);
    while (error_ == FrameError::none) {
        if (!have_header_ && !read_header(data)) return false;
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        unmask_append(is_control(frame_op_) ? control_ : message_, data.data(), take, mask_, mask_offset_);
        mask_offset_ += take;
        remaining_ -= take;
        data.remove_prefix(take);
        if (remaining_ != 0) return false;
        have_header_ = false;

        if (is_control(frame_op_)) {
            returned_control_ = true;
            return finish_control(msg);
        }
        if (!frame_fin_) continue;
        in_fragmented_ = false;
        if (fragmented_op_ == Opcode::text && !is_valid_utf8(message_)) return fail(FrameError::invalid_utf8);
        msg = ClientMessage{};
        msg.kind = fragmented_op_ == Opcode::text ? ClientMessage::Kind::text : ClientMessage::Kind::binary;
        msg.payload = message_;
        returned_message_ = true;
        return true;
    }
    return false;
}

std::size_t FrameReader::held_bytes() const noexcept {
    const std::size_t inline_capacity = std::string().capacity();
    std::size_t held = 0;
    for (const std::string* s : {&frame_, &message_, &control_})
        if (s->capacity() > inline_capacity) held += s->capacity() + 1;
    return held;
}

bool take_server_frame(std::string_view& frames, ServerFrame& out) noexcept {
    if (frames.size() < 2) return false;
    const auto byte = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(frames[i])); };
    std::uint64_t length = byte(1) & 0x7f;
    std::size_t header = 2;
    if (length == 126 && frames.size() >= 4) {
        length = byte(2) << 8 | byte(3);
        header = 4;
    } else if (length == 127 && frames.size() >= 10) {
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) length = length << 8 | byte(i);
        header = 10;
    } else if (length >= 126) {
        return false;
    }
    out.opcode = static_cast<Opcode>(byte(0) & 0x0f);
    out.payload = frames.substr(header, length);
    frames.remove_prefix(std::min<std::size_t>(frames.size(), header + length));
    return true;
}

}  // namespace tickgate::protocol
