// protocol::FrameReader on arbitrary client bytes, delivered in chunks whose size the first input
// byte picks, so headers and payloads split at every possible point. Checks the reader's contract:
// text is UTF-8, messages respect the size limit, control payloads fit 125 bytes, and after an
// error nothing more is consumed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/utf8.hpp"
#include "protocol/websocket_frame.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    constexpr std::size_t kMaxMessage = 4096;
    const std::size_t chunk = 1 + data[0] % 64;
    std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

    tp::FrameReader reader(kMaxMessage);
    tp::ClientMessage msg;
    while (!stream.empty()) {
        std::string_view piece = stream.substr(0, chunk);
        stream.remove_prefix(piece.size());
        while (reader.next(piece, msg)) {
            using K = tp::ClientMessage::Kind;
            if (msg.kind == K::text) FUZZ_CHECK(tp::is_valid_utf8(msg.payload));
            if (msg.kind == K::text || msg.kind == K::binary) {
                FUZZ_CHECK(msg.payload.size() <= kMaxMessage);
            } else {
                FUZZ_CHECK(msg.payload.size() <= 125);
            }
            if (msg.kind == K::close) FUZZ_CHECK(tp::is_valid_utf8(msg.close_reason));
        }
        if (reader.error() != tp::FrameError::none) {
            const std::size_t before = piece.size();
            FUZZ_CHECK(!reader.next(piece, msg) && piece.size() == before);
            return 0;
        }
        FUZZ_CHECK(piece.empty());  // without an error, next() only stops when the bytes are used up
    }
    return 0;
}
