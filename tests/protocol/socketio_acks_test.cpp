#include "protocol/socketio_events.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sio = tickgate::protocol::socketio;
using tickgate::protocol::ErrorCode;

namespace {

std::string topics_ack(bool accepted, std::vector<std::string> topics, std::optional<sio::AckError> error) {
    std::string out;
    sio::encode_topics_ack(accepted, topics, error, out);
    return out;
}

}  // namespace

TEST(SocketIoAcks, AcceptedListsTheTopics) {
    EXPECT_EQ(topics_ack(true, {"ticker.BTC-USD", "ticker.*"}, std::nullopt),
              R"({"topics":["ticker.BTC-USD","ticker.*"]})");
    // Entries already held are accepted without being listed: the client still hears back.
    EXPECT_EQ(topics_ack(true, {}, std::nullopt), R"({"topics":[]})");
}

TEST(SocketIoAcks, AnErrorTravelsInTheAckBesideWhatWasAccepted) {
    sio::AckError error{ErrorCode::unknown_topic, "no feed publishes this topic; see op list", {"ticker.NOPE-USD"}};
    EXPECT_EQ(topics_ack(true, {"ticker.BTC-USD"}, error),
              R"({"topics":["ticker.BTC-USD"],"error":{"code":"unknown_topic",)"
              R"("message":"no feed publishes this topic; see op list","topics":["ticker.NOPE-USD"]}})");
}

TEST(SocketIoAcks, NothingAcceptedCarriesTheErrorAlone) {
    sio::AckError error{ErrorCode::bad_request, "say \"why\"", {}};
    EXPECT_EQ(topics_ack(false, {}, error), R"({"error":{"code":"bad_request","message":"say \"why\""}})");
    EXPECT_EQ(topics_ack(false, {}, std::nullopt), "{}");
}

TEST(SocketIoAcks, ListAndPong) {
    std::vector<std::string_view> names{"ticker.BTC-USD", "ticker.ETH-USD"};
    std::string list;
    sio::encode_list_ack(names, list);
    EXPECT_EQ(list, R"({"topics":["ticker.BTC-USD","ticker.ETH-USD"]})");
    std::string pong;
    sio::encode_pong_ack(1764090000123456789, pong);
    EXPECT_EQ(pong, R"({"ts":1764090000123456789})");
}
