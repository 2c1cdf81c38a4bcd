// Engine.IO: polling payloads, single text packets, query strings and base64. Beyond "no crash,
// no sanitizer report", every payload the decoder accepts must survive encode -> decode unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/base64.hpp"
#include "protocol/engineio.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;
namespace eio = tickgate::protocol::engineio;

namespace {

void check_payload_round_trip(std::string_view body) {
    const eio::PayloadLimits limits{64 * 1024, 64};
    std::vector<eio::Packet> packets;
    std::string storage;
    if (eio::decode_payload(body, limits, packets, storage) != eio::DecodeError::none) return;
    FUZZ_CHECK(!packets.empty() && packets.size() <= limits.max_packets);

    std::string encoded;
    eio::encode_payload(packets, encoded);
    FUZZ_CHECK(encoded == body);  // base64 is canonical, so even the bytes come back identical

    std::vector<eio::Packet> again;
    std::string storage2;
    FUZZ_CHECK(eio::decode_payload(encoded, limits, again, storage2) == eio::DecodeError::none);
    FUZZ_CHECK(again.size() == packets.size());
    for (std::size_t i = 0; i < packets.size(); ++i) {
        FUZZ_CHECK(again[i].type == packets[i].type && again[i].binary == packets[i].binary &&
                   again[i].data == packets[i].data);
    }
}

void check_text_packet(std::string_view frame) {
    eio::Packet p;
    if (eio::decode_text_packet(frame, p) != eio::DecodeError::none) return;
    std::string encoded;
    eio::append_packet(p.type, p.data, encoded);
    FUZZ_CHECK(encoded == frame);
}

void check_query(std::string_view input) {
    eio::Query q;
    if (eio::parse_query(eio::target_query(input), q) == eio::QueryError::none && !q.sid.empty()) {
        FUZZ_CHECK(eio::is_valid_sid(q.sid));
    }
    std::string body;
    eio::encode_http_error(eio::http_error_for(eio::parse_query(input, q)), body);
}

void check_base64(std::string_view input) {
    std::string encoded, decoded;
    tp::append_base64(input, encoded);
    FUZZ_CHECK(tp::append_base64_decoded(encoded, decoded) && decoded == input);
    std::string bytes;
    if (tp::append_base64_decoded(input, bytes)) {
        std::string back;
        tp::append_base64(bytes, back);
        FUZZ_CHECK(back == input);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_payload_round_trip(input);
    check_text_packet(input);
    check_query(input);
    check_base64(input);
    return 0;
}
