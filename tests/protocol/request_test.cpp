#include "protocol/request.hpp"

#include <gtest/gtest.h>

#include <string>

#include "request_checks.hpp"

namespace tp = tickgate::protocol;

namespace {

using request_checks::err;
using request_checks::ok;

std::string topics_array(std::size_t n) {
    std::string s = "[";
    for (std::size_t i = 0; i < n; ++i) s += (i ? ",\"ticker.A" : "\"ticker.A") + std::to_string(i) + "-USD\"";
    return s + "]";
}

}  // namespace

TEST(ParseRequest, Subscribe) {
    const auto r = ok(R"({"op":"subscribe","id":1,"topics":["ticker.BTC-USD","ticker.*"]})");
    EXPECT_EQ(r.op, tp::Op::subscribe);
    EXPECT_EQ(r.id_json, "1");
    EXPECT_EQ(r.topics, (std::vector<std::string>{"ticker.BTC-USD", "ticker.*"}));
}

TEST(ParseRequest, UnsubscribeKeepsEntriesUnvalidated) {
    const auto r = ok(R"( {"topics":["not a topic",""],"op":"unsubscribe"} )");
    EXPECT_EQ(r.op, tp::Op::unsubscribe);
    EXPECT_EQ(r.id_json, "");
    EXPECT_EQ(r.topics, (std::vector<std::string>{"not a topic", ""}));
}

TEST(ParseRequest, ListAndPingIgnoreTopicsAndExtraFields) {
    auto r = ok(R"({"op":"list","id":"abc"})");
    EXPECT_EQ(r.op, tp::Op::list);
    EXPECT_EQ(r.id_json, "\"abc\"");
    r = ok(R"({"op":"ping","topics":5,"extra":{"nested":[1,2,3]}})");
    EXPECT_EQ(r.op, tp::Op::ping);
    EXPECT_TRUE(r.topics.empty());
}

TEST(ParseRequest, IdForms) {
    EXPECT_EQ(ok(R"({"op":"ping","id":0})").id_json, "0");
    EXPECT_EQ(ok(R"({"op":"ping","id":-42})").id_json, "-42");
    EXPECT_EQ(ok(R"({"op":"ping","id":9223372036854775807})").id_json, "9223372036854775807");
    EXPECT_EQ(ok(R"({"op":"ping","id":-9223372036854775808})").id_json, "-9223372036854775808");
    EXPECT_EQ(ok(R"({"op":"ping","id":18446744073709551615})").id_json, "18446744073709551615");
    EXPECT_EQ(ok(R"({"op":"ping","id":""})").id_json, "\"\"");
    EXPECT_EQ(ok(R"({"op":"ping","id":"a\"b\\c\n\u0001"})").id_json, R"("a\"b\\c\u000A\u0001")");
    EXPECT_EQ(ok(R"({"op":"ping","id":"\u00e9"})").id_json, "\"\xC3\xA9\"");
}

TEST(ParseRequest, BadIdTypes) {
    for (const char* id : {"1.5", "1e3", "18446744073709551616", "true", "null", "[1]", "{}"}) {
        const auto e = err(std::string(R"({"op":"ping","id":)") + id + "}");
        EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
        EXPECT_NE(e.message.find("'id'"), std::string::npos) << id << ": " << e.message;
        EXPECT_EQ(e.id_json, "") << id;
    }
}

TEST(ParseRequest, MalformedJson) {
    for (const char* bad : {"", " ", "{", "{\"op\":\"ping\"", "{\"op\":\"ping\"}}", "{op:\"ping\"}", "{'op':'ping'}",
                            "{\"op\":\"ping\",}", "nul", "{\"op\":NaN}"}) {
        const auto e = err(bad);
        EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
        EXPECT_NE(e.message.find("malformed JSON"), std::string::npos) << bad << ": " << e.message;
    }
}

TEST(ParseRequest, InvalidUtf8IsBadRequest) {
    const auto e = err("{\"op\":\"ping\",\"id\":\"\xC3\x28\"}");
    EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
    EXPECT_NE(e.message.find("UTF-8"), std::string::npos) << e.message;
    EXPECT_EQ(err("{\"op\":\"subscribe\",\"topics\":[\"\xED\xA0\x80\"]}").code, tp::ErrorCode::bad_request);
}

TEST(ParseRequest, NotAnObject) {
    for (const char* bad : {"[]", "\"subscribe\"", "42", "null"}) {
        EXPECT_NE(err(bad).message.find("object"), std::string::npos) << bad;
    }
}

TEST(ParseRequest, OpProblemsEchoTheId) {
    auto e = err(R"({"id":7})");
    EXPECT_NE(e.message.find("'op'"), std::string::npos);
    EXPECT_EQ(e.id_json, "7");
    e = err(R"({"id":"x","op":1})");
    EXPECT_NE(e.message.find("'op'"), std::string::npos);
    EXPECT_EQ(e.id_json, "\"x\"");
    e = err(R"({"op":"Subscribe","id":8,"topics":["a.B-C"]})");
    EXPECT_NE(e.message.find("unknown op"), std::string::npos);
    EXPECT_EQ(e.id_json, "8");
    EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
    EXPECT_NE(err("{\"op\":\"ping\\u0000\"}").message.find("unknown op"), std::string::npos);
}

TEST(ParseRequest, TopicsProblems) {
    for (const char* body : {R"({"op":"subscribe","id":9})", R"({"op":"unsubscribe","id":9,"topics":"a.B-C"})",
                             R"({"op":"subscribe","id":9,"topics":[]})", R"({"op":"subscribe","id":9,"topics":null})",
                             R"({"op":"subscribe","id":9,"topics":["a.B-C",1]})",
                             R"({"op":"subscribe","id":9,"topics":[["a.B-C"]]})"}) {
        const auto e = err(body);
        EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
        EXPECT_NE(e.message.find("'topics'"), std::string::npos) << body << ": " << e.message;
        EXPECT_EQ(e.id_json, "9") << body;
    }
}

TEST(ParseRequest, TopicCountLimit) {
    const auto r = ok(R"({"op":"subscribe","topics":)" + topics_array(1000) + "}");
    EXPECT_EQ(r.topics.size(), 1000u);
    EXPECT_EQ(r.topics[999], "ticker.A999-USD");
    const auto e = err(R"({"op":"subscribe","id":1,"topics":)" + topics_array(1001) + "}");
    EXPECT_NE(e.message.find("1000"), std::string::npos) << e.message;
    EXPECT_EQ(e.id_json, "1");
}

TEST(ParseRequest, DeepNestingDoesNotCrash) {
    // Parsed without recursion, then refused for its depth (at most 32 levels).
    const std::string deep = R"({"op":"ping","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    EXPECT_EQ(err(deep).message, "JSON nested deeper than 32 levels");
    EXPECT_EQ(err(std::string(200000, '[')).code, tp::ErrorCode::bad_request);
}

TEST(ParseRequest, DuplicateKeysUseTheFirst) {
    // RapidJSON's FindMember returns the first occurrence; pin it so the behaviour is deliberate.
    EXPECT_EQ(ok(R"({"op":"list","op":"bogus"})").op, tp::Op::list);
}
