#include "protocol/http_response.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

TEST(OriginPolicy, NoListOrNoOriginAllowsAndAListMustMatchExactly) {
    const std::vector<std::string> none;
    const std::vector<std::string> list{"https://app.example", "http://127.0.0.1:3000"};
    EXPECT_TRUE(origin_allowed(none, "https://evil.example"));
    EXPECT_TRUE(origin_allowed(list, ""));  // not a browser: nothing to check
    EXPECT_TRUE(origin_allowed(list, "http://127.0.0.1:3000"));
    EXPECT_FALSE(origin_allowed(list, "https://app.example.evil"));
    EXPECT_FALSE(origin_allowed(list, "HTTPS://APP.EXAMPLE"));
}

TEST(OriginPolicy, CorsHeadersEchoTheOriginWithCredentials) {
    EXPECT_EQ(cors_headers(""), "");
    EXPECT_EQ(cors_headers("https://app.example"),
              "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Credentials: true\r\n"
              "Vary: Origin\r\n");
}

}  // namespace
}  // namespace tickgate::protocol
