#pragma once
// RFC 6455 framing, server side: building unmasked server frames and parsing masked client frames.
// Pure code: bytes in, messages out.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tickgate::protocol {

enum class Opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

inline constexpr std::size_t kMaxFrameHeader = 10;  // server frames are never masked

/// Writes a FIN frame header for `payload_size` bytes into `out` (kMaxFrameHeader bytes room).
std::size_t write_frame_header(std::uint8_t* out, Opcode op, std::size_t payload_size) noexcept;
/// Appends a whole FIN frame (header + payload).
void append_frame(std::string& out, Opcode op, std::string_view payload);
/// Appends a close frame; the reason is cut to fit the 125-byte control payload.
void append_close_frame(std::string& out, std::uint16_t code, std::string_view reason);

/// One of our own server frames (unmasked, whole, FIN), for code that re-reads what the server
/// queued (the polling transport). Takes it off the front of `frames`; false when none is left.
struct ServerFrame {
    Opcode opcode = Opcode::text;
    std::string_view payload;
};
bool take_server_frame(std::string_view& frames, ServerFrame& out) noexcept;

struct ClientMessage {
    enum class Kind { text, binary, ping, pong, close };
    Kind kind = Kind::text;
    std::string_view payload;        // unmasked; valid until the next call to FrameReader::next
    std::uint16_t close_code = 0;    // close only: 1005 when the frame carried no code
    std::string_view close_reason;   // close only
};

/// Why reading stopped; each maps to the close code the server must send.
enum class FrameError : std::uint16_t {
    none = 0,
    protocol_error = 1002,  // unmasked frame, reserved bits/opcodes, bad continuation, bad control frame
    invalid_utf8 = 1007,    // text message or close reason that is not UTF-8
    too_big = 1009,         // a message (all fragments together) over max_message_bytes
};

/// Incremental parser of client frames. Reassembles fragmented messages; control frames may
/// arrive between fragments and are returned at once.
class FrameReader {
public:
    explicit FrameReader(std::size_t max_message_bytes);

    /// Consumes bytes from the front of `data` until one complete message is available (returns
    /// true, `msg` filled) or `data` is used up (returns false; bytes are kept internally as needed).
    /// After an error it returns false and consumes nothing; error() says why.
    /// `msg` views the reader's own storage: it is valid until the next call, which first gives
    /// that storage back, so an idle connection holds no payload buffer and one large message does
    /// not pin its size for the rest of the connection.
    bool next(std::string_view& data, ClientMessage& msg);
    FrameError error() const noexcept { return error_; }
    /// Heap bytes the reader holds (its buffers' capacity past the small-string storage).
    std::size_t held_bytes() const noexcept;

private:
    bool read_header(std::string_view& data);
    bool start_frame(const unsigned char* header);
    bool check_first_bytes(unsigned char b0, unsigned char b1) noexcept;
    bool fail(FrameError e) noexcept;
    bool finish_control(ClientMessage& msg);

    std::size_t max_message_bytes_;
    FrameError error_ = FrameError::none;
    // Header bytes of a frame split across reads. Payload bytes never go here: they are unmasked
    // straight into message_ or control_ as they arrive.
    std::string frame_;
    std::string message_;     // unmasked payload of the data message so far (all its fragments)
    std::string control_;     // unmasked payload of the last control frame
    bool in_fragmented_ = false;  // a data message is in progress (its final fragment not yet read)
    bool returned_message_ = false;  // the last call returned a data message (message_ is free after it)
    bool returned_control_ = false;  // the last call returned a control frame (control_ is free after it)
    Opcode fragmented_op_ = Opcode::text;

    // The frame whose payload is being read.
    bool have_header_ = false;
    bool frame_fin_ = false;
    Opcode frame_op_ = Opcode::text;
    std::uint64_t remaining_ = 0;  // payload bytes still to come
    std::size_t mask_offset_ = 0;  // payload bytes already unmasked (selects the mask key byte)
    unsigned char mask_[4] = {};
};

}  // namespace tickgate::protocol
