#include "protocol/bus_announcement.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tp = tickgate::protocol;
using tp::AnnouncementError;

namespace {

tp::Announcement sample_announcement(std::string topic = "") {
    tp::Announcement a;
    a.event = "announcement";
    a.data = R"({"text":"maintenance at 18:00", "level": 2})";
    a.topic = std::move(topic);
    a.ts_ns = 1764090000123456789;
    return a;
}

std::string encode(const tp::Announcement& a, std::uint64_t origin) {
    std::string out;
    tp::append_bus_announcement(a, origin, out);
    return out;
}

}  // namespace

TEST(BusAnnouncement, RoundTripsEveryFieldAndTheOrigin) {
    for (const std::string topic : {"", "ticker.BTC-USD", "chat.lobby"}) {
        const auto in = sample_announcement(topic);
        const std::string bytes = encode(in, 0x1122334455667788ULL);
        ASSERT_EQ(bytes.size(), 20 + in.event.size() + topic.size() + in.data.size());
        EXPECT_EQ(bytes[0], 'T');
        EXPECT_EQ(bytes[1], 1);
        EXPECT_EQ(static_cast<unsigned char>(bytes[2]), 0x88);  // origin, lowest byte first
        std::uint64_t origin = 0;
        tp::Announcement out;
        ASSERT_EQ(tp::decode_bus_announcement(bytes, origin, out), AnnouncementError::none) << topic;
        EXPECT_EQ(origin, 0x1122334455667788ULL);
        EXPECT_EQ(out.event, in.event);
        EXPECT_EQ(out.topic, topic);
        EXPECT_EQ(out.data, in.data);
        EXPECT_EQ(out.ts_ns, in.ts_ns);
    }
}

TEST(BusAnnouncement, DamagedOrForeignOnesAreRefusedAndLeaveTheOutputAlone) {
    std::uint64_t origin = 9;
    tp::Announcement out;
    out.event = "kept";
    const auto refused = [&](const std::string& bytes) { return tp::decode_bus_announcement(bytes, origin, out); };
    const std::string good = encode(sample_announcement(), 5);
    EXPECT_EQ(refused(""), AnnouncementError::malformed);
    EXPECT_EQ(refused(good.substr(0, 19)), AnnouncementError::malformed);
    EXPECT_EQ(refused(R"({"event":"x"})"), AnnouncementError::malformed);
    std::string lengths = good;
    lengths[18] = static_cast<char>(200);
    EXPECT_EQ(refused(lengths), AnnouncementError::malformed);
    EXPECT_EQ(refused(encode(sample_announcement(), 0)), AnnouncementError::bad_origin);
    for (const std::string& event : {std::string(""), std::string("Announcement"), std::string("a-b"), std::string(28, 'a')}) {
        auto a = sample_announcement();
        a.event = event;
        EXPECT_EQ(refused(encode(a, 5)), AnnouncementError::bad_event) << event;
    }
    for (const std::string topic : {"ticker.*", "chat", "chat.Lobby"})
        EXPECT_EQ(refused(encode(sample_announcement(topic), 5)), AnnouncementError::bad_topic) << topic;
    for (const std::string& data : {std::string(""), std::string("{"), std::string("1 2"), "\"" + std::string(tp::kMaxAnnouncementData, 'x') + "\""}) {
        auto a = sample_announcement();
        a.data = data;
        EXPECT_EQ(refused(encode(a, 5)), AnnouncementError::bad_data) << data.substr(0, 20);
    }
    EXPECT_EQ(origin, 9u);
    EXPECT_EQ(out.event, "kept");
}
