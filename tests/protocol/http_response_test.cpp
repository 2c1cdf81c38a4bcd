#include "protocol/http_response.hpp"

#include <gtest/gtest.h>

namespace tickgate::protocol {
namespace {

TEST(HttpResponse, StatusHeadersLengthAndBody) {
    EXPECT_EQ(http_response(404, "Not Found", "application/json", "{\"error\":\"x\"}\n", false),
              "HTTP/1.1 404 Not Found\r\nServer: tickgate\r\nContent-Type: application/json\r\n"
              "Content-Length: 14\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{\"error\":\"x\"}\n");
}

TEST(HttpResponse, NoContentTypeWithoutOneAndExtraHeadersBeforeTheBlankLine) {
    const auto r = http_response(204, "No Content", "", "", true, "Access-Control-Allow-Origin: https://a\r\n");
    EXPECT_EQ(r.find("Content-Type"), std::string::npos);
    EXPECT_NE(r.find("Content-Length: 0\r\n"), std::string::npos);
    EXPECT_NE(r.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_TRUE(r.ends_with("Access-Control-Allow-Origin: https://a\r\n\r\n"));
}

}  // namespace
}  // namespace tickgate::protocol
