// The bus codec: arbitrary bytes as a NATS message (the first byte chooses where the subject ends).
// An accepted record re-encodes to the very same bytes, and an accepted subject's topic is a
// suffix of it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "protocol/bus_update.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t cut = std::min<std::size_t>(data[0], size - 1);
    const std::string_view subject(reinterpret_cast<const char*>(data + 1), cut);
    const std::string_view payload(reinterpret_cast<const char*>(data + 1 + cut), size - 1 - cut);

    const std::string_view topic = tp::topic_from_subject(subject);
    if (!topic.empty()) {
        FUZZ_CHECK(topic.size() <= tickgate::protocol::kMaxTopicLength);
        FUZZ_CHECK(subject.ends_with(topic));
        FUZZ_CHECK(topic.data() >= subject.data() && topic.data() + topic.size() == subject.data() + subject.size());
    }

    tickgate::protocol::MarketUpdate u;
    if (tp::decode_bus_update(payload, u) != tp::BusDecodeError::none) return 0;
    FUZZ_CHECK(payload.size() == tp::kBusUpdateSize);
    FUZZ_CHECK(u.seq >= 1 && u.price_decimals <= 18 && u.size_decimals <= 18);
    std::array<std::byte, tp::kBusUpdateSize> again{};
    tp::encode_bus_update(u, again.data());
    FUZZ_CHECK(std::memcmp(again.data(), payload.data(), again.size()) == 0);
    return 0;
}
