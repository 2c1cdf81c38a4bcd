#include "protocol/http_request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tickgate::protocol {
namespace {

using namespace std::string_literals;

// RFC 6455 section 1.3 (and 4.2.2): the one published key/answer pair.
TEST(WebSocketAcceptKey, MatchesTheExampleOfRfc6455) {
    EXPECT_EQ(websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketAcceptKey, DependsOnEveryByteOfTheKey) {
    // A client checks the answer against its own key: a key taken in part would fail it.
    EXPECT_NE(websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ="));
    EXPECT_EQ(websocket_accept_key("").size(), 28u) << "base64 of a 20-byte digest";
}

TEST(WebSocketKey, IsBase64OfExactlySixteenBytes) {
    EXPECT_TRUE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ==")) << "RFC 6455's example";
    EXPECT_TRUE(valid_websocket_key("AAAAAAAAAAAAAAAAAAAAAA=="));
    EXPECT_TRUE(valid_websocket_key("/+/+/+/+/+/+/+/+/+/+/w=="));
    EXPECT_FALSE(valid_websocket_key("")) << "empty";
    EXPECT_FALSE(valid_websocket_key("AAAAAAAAAAA=")) << "8 bytes";
    EXPECT_FALSE(valid_websocket_key("AAAAAAAAAAAAAAAAAAAAAAA=")) << "17 bytes";
    EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ")) << "unpadded";
    EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25j!Q==")) << "not base64";
    EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==")) << "two keys";
    EXPECT_FALSE(valid_websocket_key("dGhlIHNhbX BsZSBub25jZQ=")) << "a space";
}

TEST(PercentDecode, DecodesEscapesInEitherCase) {
    EXPECT_EQ(percent_decode("ticker.BTC-USD%2Cticker.ETH-USD"), "ticker.BTC-USD,ticker.ETH-USD");
    EXPECT_EQ(percent_decode("%2a%2A"), "**");
    EXPECT_EQ(percent_decode("%41%42"), "AB");
    EXPECT_EQ(percent_decode("%00"), "\0"s);
    EXPECT_EQ(percent_decode("%ff"), "\xff");
}

TEST(PercentDecode, PlusIsASpaceButAnEscapedPlusIsAPlus) {
    EXPECT_EQ(percent_decode("a+b"), "a b");
    EXPECT_EQ(percent_decode("+"), " ");
    EXPECT_EQ(percent_decode("a%2Bb"), "a+b");
}

TEST(PercentDecode, KeepsAPercentThatStartsNoEscape) {
    EXPECT_EQ(percent_decode("%"), "%");
    EXPECT_EQ(percent_decode("abc%"), "abc%");
    EXPECT_EQ(percent_decode("abc%4"), "abc%4");
    EXPECT_EQ(percent_decode("%zz"), "%zz");
    EXPECT_EQ(percent_decode("%4z"), "%4z");
    EXPECT_EQ(percent_decode("%%41"), "%A");
    EXPECT_EQ(percent_decode(""), "");
}

TEST(QueryParam, ReturnsTheDecodedValueOfTheNamedParameter) {
    EXPECT_EQ(query_param("subscribe=ticker.BTC-USD", "subscribe"), "ticker.BTC-USD");
    EXPECT_EQ(query_param("a=1&subscribe=ticker.*%2Ctrades.*&b=2", "subscribe"), "ticker.*,trades.*");
    EXPECT_EQ(query_param("a=b=c", "a"), "b=c") << "only the first '=' separates";
    EXPECT_EQ(query_param("&&a=1&", "a"), "1") << "empty pairs are skipped";
}

TEST(QueryParam, AbsentIsEmpty) {
    EXPECT_EQ(query_param("", "subscribe"), "");
    EXPECT_EQ(query_param("a=1&b=2", "subscribe"), "");
    EXPECT_EQ(query_param("subscribex=1&xsubscribe=2", "subscribe"), "") << "names match whole";
    EXPECT_EQ(query_param("a=subscribe", "subscribe"), "") << "a value is no name";
}

TEST(QueryParam, EmptyValueAndNoEqualsSignAreEmpty) {
    EXPECT_EQ(query_param("subscribe=", "subscribe"), "");
    EXPECT_EQ(query_param("subscribe", "subscribe"), "");
    EXPECT_EQ(query_param("a=1&subscribe&b=2", "subscribe"), "");
}

TEST(QueryParam, TheFirstOfARepeatedParameterWins) {
    EXPECT_EQ(query_param("subscribe=ticker.BTC-USD&subscribe=ticker.ETH-USD", "subscribe"), "ticker.BTC-USD");
    // Found without '=' first: that (empty) occurrence is the answer, the later value is not used.
    EXPECT_EQ(query_param("subscribe&subscribe=ticker.ETH-USD", "subscribe"), "");
}

// upgrade_fuzz found that the parser's target alone gave 414 to a short line that had come in a
// read of its own; the unconsumed bytes decide now.
TEST(RequestTooLarge, AnEndedRequestLineIs431HoweverItWasRead) {
    constexpr std::size_t limit = 64;
    EXPECT_EQ(request_too_large_status(true, "", limit), 431);
    EXPECT_EQ(request_too_large_status(false, "GET /ws HTTP/1.1\r\nX: " + std::string(100, 'x'), limit), 431);
    EXPECT_EQ(request_too_large_status(false, "GET /" + std::string(100, 'q') + " HTTP/1.1\r\n", limit), 414);
    EXPECT_EQ(request_too_large_status(false, std::string(limit - 2, 'q') + "\r\n", limit), 431);
    EXPECT_EQ(request_too_large_status(false, std::string(limit - 1, 'q') + "\r\n", limit), 414);
    EXPECT_EQ(request_too_large_status(false, "", limit), 414);
}

}  // namespace
}  // namespace tickgate::protocol
