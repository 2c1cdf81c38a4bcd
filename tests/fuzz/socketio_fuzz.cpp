// Socket.IO: the packet decoder and the mapping of events to v1 requests. Decoded views must lie
// inside the input, bounds must hold, and an accepted event rebuilt from its parts decodes to the
// same name and arguments.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/messages.hpp"
#include "protocol/socketio.hpp"
#include "protocol/socketio_events.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace sio = tickgate::protocol::socketio;

namespace {

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_event_rebuilds(const sio::Packet& p) {
    // "2[" name ("," arg)* "]": the encoders' framing, with every argument as the decoder cut it.
    std::string text = "2[";
    tickgate::protocol::append_json_string(p.event, text);
    for (const std::string_view arg : p.args) {
        text += ',';
        text += arg;
    }
    text += ']';
    sio::Packet again;
    FUZZ_CHECK(sio::decode(text, again) == sio::DecodeError::none);
    FUZZ_CHECK(again.event == p.event && again.args.size() == p.args.size());
    for (std::size_t i = 0; i < p.args.size(); ++i) FUZZ_CHECK(again.args[i] == p.args[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    sio::Packet p;
    if (sio::decode(input, p, 64 * 1024) != sio::DecodeError::none) return 0;

    FUZZ_CHECK(p.nsp == sio::kDefaultNamespace || inside(p.nsp, input));
    FUZZ_CHECK(inside(p.data, input));
    FUZZ_CHECK(p.args.size() <= sio::kMaxArgs);
    for (const std::string_view arg : p.args) FUZZ_CHECK(!arg.empty() && inside(arg, input));
    if (p.ack_id) FUZZ_CHECK(*p.ack_id <= sio::kMaxAckId);

    if (p.type == sio::PacketType::event) {
        check_event_rebuilds(p);
        const auto r = sio::event_to_request(p);
        if (const auto* req = std::get_if<tickgate::protocol::Request>(&r)) FUZZ_CHECK(req->topics.size() <= 1000);
    }
    if (p.type == sio::PacketType::connect) {
        std::string out;
        sio::encode_connect_error(p.nsp, "Invalid namespace", out);
        sio::Packet reply;
        FUZZ_CHECK(sio::decode(std::string_view(out).substr(1), reply) == sio::DecodeError::none);
        FUZZ_CHECK(reply.type == sio::PacketType::connect_error && reply.nsp == p.nsp);
    }
    return 0;
}
