#pragma once
// RFC 6455 framing, client side: masked frames out, unmasked server frames in. Pure code, so the
// load tool needs no Beast on its hot path and reads frames in place from its receive buffer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tickgate::load {

enum class WsOpcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

/// Appends one FIN frame, masked with `mask_key` as every client frame must be.
void append_client_frame(std::string& out, WsOpcode op, std::string_view payload, std::uint32_t mask_key);
/// Appends a close frame with `code` (and a reason, cut to the 123 bytes a control frame allows).
void append_client_close(std::string& out, std::uint16_t code, std::string_view reason, std::uint32_t mask_key);

struct ServerFrame {
    WsOpcode op = WsOpcode::text;
    bool fin = true;
    std::string_view payload;  // points into the decoded data
};

enum class DecodeStatus { frame, need_more, error };

/// Decodes the frame at the front of `data`. On `frame`, `consumed` is its total size. On
/// `need_more`, `needed` is the total frame size when the header is complete (so the caller can
/// grow its buffer), else 14. `error`: a masked server frame, reserved bits, an unknown opcode, a
/// bad control frame, or a payload over `max_payload`.
DecodeStatus decode_server_frame(std::string_view data, std::uint64_t max_payload, ServerFrame& frame,
                                 std::size_t& consumed, std::size_t& needed) noexcept;

/// The close code of a close frame's payload: 1005 when it carries none.
std::uint16_t close_code_of(std::string_view close_payload) noexcept;

/// Reassembles fragmented data messages (servers rarely fragment; when they do, the pieces are
/// copied here). Control frames pass through untouched.
class MessageAssembler {
public:
    /// Feeds one data frame; returns true with `message` set when a whole message is complete.
    /// Returns false for a non-final fragment, or on a continuation without a start (error() set).
    bool add(const ServerFrame& frame, std::string_view& message, WsOpcode& op);
    bool error() const noexcept { return error_; }

private:
    std::string parts_;
    WsOpcode op_ = WsOpcode::text;
    bool in_message_ = false;
    bool error_ = false;
};

}  // namespace tickgate::load
