#include "protocol/announcement.hpp"

#include <gtest/gtest.h>

namespace tickgate::protocol {
namespace {

TEST(Announcement, EventNames) {
    for (const auto* good : {"announcement", "a", "maintenance_2", "0", "aaaaaaaaaaaaaaaaaaaaaaaaaaa"})
        EXPECT_EQ(event_name_problem(good), "") << good;
    EXPECT_EQ(event_name_problem(""), "an event name is 1 to 27 characters");
    EXPECT_EQ(event_name_problem("aaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "an event name is 1 to 27 characters");
    for (const auto* bad : {"News", "a-b", "a.b", "a b", "\xc3\xa9"})
        EXPECT_EQ(event_name_problem(bad), "an event name matches [a-z0-9_]{1,27}") << bad;
    // Every reserved channel (message types, and what is_reserved_channel will hold) is refused.
    for (const auto* reserved : {"message", "error", "welcome", "status", "subscribed", "unsubscribed", "topics", "pong",
                                 "connect", "disconnect", "authenticated", "token_expiring"})
        EXPECT_EQ(event_name_problem(reserved), "it is reserved (a message type or event of the protocol)") << reserved;
    // Socket.IO's lifecycle events the grammar lets through would fire a client's own handlers:
    // the same list holds them.
    EXPECT_EQ(event_name_problem("connect_error"), "it is reserved (a message type or event of the protocol)");
    EXPECT_EQ(event_name_problem("disconnecting"), "it is reserved (a message type or event of the protocol)");
}

TEST(Announcement, V1MessageCarriesDataAsIs) {
    Announcement a;
    a.event = "maintenance";
    a.data = R"({"at":"22:00","note":"caf\u00e9"})";
    a.ts_ns = 1764090000123456789;
    std::string out = "prefix:";
    encode_broadcast(a, out);
    EXPECT_EQ(out, R"(prefix:{"type":"broadcast","event":"maintenance","ts":1764090000123456789,"data":{"at":"22:00","note":"caf\u00e9"}})");
}

}  // namespace
}  // namespace tickgate::protocol
