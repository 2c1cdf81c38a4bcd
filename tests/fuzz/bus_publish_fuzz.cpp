// What gateways and tickgate-feed exchange over NATS besides market data, on arbitrary bytes: a
// publish request (what the publisher decodes from anyone on <prefix>-publish), its reply (what a
// gateway reads back) and an announcement (what a gateway reads from every other). An accepted
// request or announcement holds only what its checks allow and encodes back to the same bytes; a
// reply is either a seq >= 1 or an error with a text; none of them reads past its bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/bus_announcement.hpp"
#include "protocol/bus_publish.hpp"
#include "protocol/topic.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly `size` bytes, so ASan sees any read past the end.
    const std::string bytes(reinterpret_cast<const char*>(data), size);

    tp::PublishRequest r;
    if (tp::decode_publish_request(bytes, r) == tp::PublishRefusal::none) {
        FUZZ_CHECK(tp::check_published_topic(r.topic) == tp::PublishRefusal::none);
        FUZZ_CHECK(!tp::is_market_data_channel(tp::topic_channel(r.topic)));
        FUZZ_CHECK(tp::is_valid_published_from(r.from));
        FUZZ_CHECK(r.data.size() <= tp::kMaxPublishedData && tp::is_valid_json_value(r.data));
        std::string again;
        tp::append_publish_request(r.topic, r.from, r.data, again);
        FUZZ_CHECK(again == bytes);
    }

    std::uint64_t seq = 0;
    std::string error;
    if (tp::decode_publish_reply(bytes, seq, error))
        FUZZ_CHECK(seq >= 1);
    else
        FUZZ_CHECK(!error.empty());

    std::uint64_t origin = 0;
    tp::Announcement a;
    if (tp::decode_bus_announcement(bytes, origin, a) == tp::AnnouncementError::none) {
        FUZZ_CHECK(origin != 0 && tp::is_valid_event_name(a.event));
        FUZZ_CHECK(a.topic.empty() || tp::classify_entry(a.topic) == tp::EntryKind::topic ||
                   tp::check_published_topic(a.topic) == tp::PublishRefusal::none);
        FUZZ_CHECK(a.data.size() <= tp::kMaxAnnouncementData && tp::is_valid_json_value(a.data));
        std::string again;
        tp::append_bus_announcement(a, origin, again);
        FUZZ_CHECK(again == bytes);
    }
    return 0;
}
