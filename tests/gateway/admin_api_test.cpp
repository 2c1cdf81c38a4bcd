#include "gateway/admin/admin_api.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <unistd.h>

#include <boost/asio/post.hpp>

#include <cstdio>
#include <fstream>
#include <future>
#include <set>

#include "gateway/admin/admin_key.hpp"
#include "gateway/admin/json_body.hpp"
#include "gateway/fanout/broadcast_engine.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "session_harness.hpp"

namespace tickgate::gateway::admin {
namespace {

using session_test::CapturingSession;
constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";

std::string write_temp(const std::string& text) {
    char path[] = "/tmp/tickgate-admin-key-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    std::ofstream(path) << text;
    close(fd);
    return path;
}

/// Runs f() on the worker's thread and returns what it returns.
template <typename F>
auto on(Worker& w, F f) {
    using R = decltype(f());
    std::promise<R> done;
    auto result = done.get_future();
    boost::asio::post(w.io(), [&] {
        if constexpr (std::is_void_v<R>) {
            f();
            done.set_value();
        } else {
            done.set_value(f());
        }
    });
    return result.get();
}

rapidjson::Document json(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    EXPECT_FALSE(d.HasParseError()) << text;
    return d;
}

/// Two running workers, as in the gateway, and the API over them.
class AdminApiTest : public ::testing::Test {
protected:
    AdminApiTest() {
        std::string error;
        EXPECT_TRUE(key.load(error)) << error;
        for (auto& w : workers) w.start();
    }
    ~AdminApiTest() override {
        for (auto& w : workers) {
            w.stop();
            w.join();
        }
    }

    Response call(std::string_view method, std::string_view target, std::string_view body = {},
                  std::string auth = "Bearer " + std::string(kKey)) {
        return api.handle(Request{method, target, auth, body});
    }
    static std::string message_of(const Response& r) { return json(r.body)["message"].GetString(); }

    /// A session on worker `w`, open, its welcome already taken.
    std::shared_ptr<CapturingSession> open(unsigned w, Wire wire, std::optional<std::string> user = {}) {
        return on(workers[w], [&] {
            auto s = std::make_shared<CapturingSession>(workers[w], polling, wire);
            if (user) {
                auth::Identity identity;
                identity.claims.sub = *user;
                identity.claims.exp = 4102444800;  // 2100
                s->set_access_control(nullptr, std::move(identity));
            }
            workers[w].attach(s);
            s->open();
            s->sent.clear();
            return s;
        });
    }
    /// A topic on every worker, as the engine's batch would announce it.
    void add_topic(std::uint32_t id, std::string_view topic) {
        for (auto& w : workers) on(w, [&] { w.registry().ensure_topic(id, topic); });
    }
    std::vector<std::string> texts(unsigned w, CapturingSession& s) {
        return on(workers[w], [&] { return s.texts(); });
    }

    Config config = [] {
        Config c;
        c.max_queue_bytes = 1 << 16;  // small enough to test the announcement's bound
        return c;
    }();
    PollingDirectory polling;
    std::string key_file = write_temp(std::string(kKey) + "\n");
    AdminKey key{key_file};
    std::array<Worker, 2> workers{Worker{0, config}, Worker{1, config}};
    AdminApi api{key, {&workers[0], &workers[1]}, config};
};

// --- the key ------------------------------------------------------------------------------------

TEST_F(AdminApiTest, EveryPathNeedsTheKeyFirst) {
    for (const auto target : {"/api/connections", "/api/broadcast", "/nowhere"}) {
        auto missing = call("GET", target, {}, "");
        EXPECT_EQ(missing.status, 401) << target;
        EXPECT_EQ(message_of(missing), "missing Authorization: Bearer <key>");
        EXPECT_NE(missing.extra_headers.find("WWW-Authenticate: Bearer"), std::string::npos);
        auto wrong = call("GET", target, {}, "Bearer 0123456789abcdef0123456789abcdeX");
        EXPECT_EQ(wrong.status, 401) << target;
        EXPECT_EQ(message_of(wrong), "wrong key");
    }
    EXPECT_EQ(call("GET", "/api/connections", {}, "Basic " + std::string(kKey)).status, 401);
    EXPECT_EQ(call("GET", "/api/connections", {}, "Bearer").status, 401);
    EXPECT_EQ(call("GET", "/api/connections", {}, "Bearer " + std::string(kKey) + "0").status, 401);  // a prefix is not the key
    EXPECT_EQ(call("GET", "/api/connections", {}, "Bearer " + std::string(kKey.substr(1))).status, 401);
    // The scheme is case-insensitive (RFC 7235); the key's trailing newline in the file is not part of it.
    EXPECT_EQ(call("GET", "/api/connections", {}, "bearer " + std::string(kKey)).status, 200);
    // The key never reaches the log line.
    EXPECT_EQ(call("GET", "/api/connections", {}, "Bearer nope-nope-nope-nope").action.find("nope"), std::string::npos);
}

TEST(AdminKey, RefusesUnreadableEmptyAndShortFilesAndReloadKeepsAGoodKey) {
    std::string error;
    AdminKey missing("/nonexistent/admin.key");
    EXPECT_FALSE(missing.load(error));
    EXPECT_NE(error.find("cannot read /nonexistent/admin.key"), std::string::npos) << error;
    AdminKey empty(write_temp("\n"));
    EXPECT_FALSE(empty.load(error));
    EXPECT_NE(error.find("is empty"), std::string::npos) << error;
    AdminKey short_key(write_temp("fifteen-bytes!!"));
    EXPECT_FALSE(short_key.load(error));
    EXPECT_NE(error.find("fewer than 16 bytes"), std::string::npos) << error;
    AdminKey directory("/tmp");
    EXPECT_FALSE(directory.load(error));
    EXPECT_NE(error.find("cannot read /tmp"), std::string::npos) << error;
    EXPECT_FALSE(missing.matches(""));  // never loaded: nothing matches

    const auto path = write_temp("first-key-of-sixteen+\r\n");
    AdminKey key(path);
    ASSERT_TRUE(key.load(error)) << error;
    EXPECT_TRUE(key.matches("first-key-of-sixteen+"));
    EXPECT_FALSE(key.matches("first-key-of-sixteen+\r\n"));
    std::ofstream(path) << "";
    EXPECT_EQ(key.reload(), ReloadResult::failed);  // a bad file keeps the current key
    EXPECT_TRUE(key.matches("first-key-of-sixteen+"));
    std::ofstream(path) << "second-key-of-sixteen";
    EXPECT_EQ(key.reload(), ReloadResult::ok);
    EXPECT_TRUE(key.matches("second-key-of-sixteen"));
    EXPECT_FALSE(key.matches("first-key-of-sixteen+"));
}

// --- paths and methods ---------------------------------------------------------------------------

TEST_F(AdminApiTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
    auto r = call("GET", "/api/nothing");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(json(r.body)["error"].GetString(), std::string("not_found"));
    r = call("GET", "/api/broadcast");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.extra_headers, "Allow: POST\r\n");
    r = call("POST", "/api/connections", "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.extra_headers, "Allow: GET\r\n");
    EXPECT_EQ(call("DELETE", "/api/disconnect").status, 405);
}

// --- bodies ---------------------------------------------------------------------------------------

TEST_F(AdminApiTest, BadBodiesGet400WithTheReason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "the body is empty: send a JSON object"},
        {"  \n", "the body is empty: send a JSON object"},
        {"not json", "malformed JSON: Invalid value. at offset"},
        {R"({"event":"x",)", "malformed JSON"},
        {R"({"event":"x"} {})", "malformed JSON: The document root must not be followed by other values."},
        {R"(["event","x"])", "the body must be a JSON object"},
        {R"("x")", "the body must be a JSON object"},
        {R"({"data":1})", "field 'event' is required"},
        {R"({"event":7,"data":1})", "field 'event' must be a string, not a number"},
        {R"({"event":"","data":1})", "field 'event' must not be empty"},
        {R"({"event":"news"})", "field 'data' is required (any JSON value)"},
        {R"({"event":"news","data":1,"topic":["ticker.BTC-USD"]})", "field 'topic' must be a string, not an array"},
        {R"({"event":"news","event":"other","data":1})", "member 'event' is given twice"},
        {"{\"event\":\"news\",\"data\":\"\xff\"}", "invalid UTF-8 in the body"},
        // admin_body_fuzz found it: RapidJSON unescapes a lone surrogate into bytes that are not UTF-8.
        {R"({"event":"news","data":{"text":"\udc00"}})", "a string escapes an unpaired surrogate"},
        {R"({"event":"news","data":"x\udfffy"})", "a string escapes an unpaired surrogate"},
        {R"({"event":"news","data":"\ud800x"})", "malformed JSON: The surrogate pair in string is invalid."},
        {R"({"event":"news","data":{"\udfff":1}})", "a string escapes an unpaired surrogate"},
    };
    for (const auto& [body, reason] : cases) {
        auto r = call("POST", "/api/broadcast", body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(json(r.body)["error"].GetString(), std::string("bad_request"));
        EXPECT_EQ(message_of(r).substr(0, reason.size()), reason) << body << " -> " << r.body;
    }
}

TEST_F(AdminApiTest, NestingIsBoundedAt32LevelsCountingTheBody) {
    auto nested = [](int arrays) {
        return R"({"event":"news","data":)" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
    };
    // The body's object is level 1: 31 arrays inside it make 32 levels.
    EXPECT_EQ(call("POST", "/api/broadcast", nested(31)).status, 200);
    auto r = call("POST", "/api/broadcast", nested(32));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(message_of(r), "JSON nested deeper than 32 levels");
    // Deep nesting anywhere, and far deeper than any stack would take.
    EXPECT_EQ(message_of(call("POST", "/api/disconnect", R"({"x":)" + std::string(100000, '['))),
              "JSON nested deeper than 32 levels");
}

TEST(JsonBody, KeepsValuesAsWrittenAndStringsUnescaped) {
    auto parsed = parse_json_object(R"({"n": 1.50, "big": 123456789012345678901234567890, "s": "a\"b\u00e9",
                                        "o": { "k" : [1, true, null, {"x": -0.0e1}] }})");
    ASSERT_TRUE(std::holds_alternative<JsonObject>(parsed)) << std::get<std::string>(parsed);
    const auto& o = std::get<JsonObject>(parsed);
    EXPECT_EQ(o.find("n")->json, "1.50");
    EXPECT_EQ(o.find("n")->kind, JsonMember::Kind::number);
    EXPECT_EQ(o.find("big")->json, "123456789012345678901234567890");  // not rounded through a double
    EXPECT_EQ(o.find("s")->text, "a\"b\xc3\xa9");
    EXPECT_EQ(o.find("s")->json, "\"a\\\"b\xc3\xa9\"");
    EXPECT_EQ(o.find("o")->json, R"({"k":[1,true,null,{"x":-0.0e1}]})");
    EXPECT_EQ(o.find("o")->kind, JsonMember::Kind::object);
    EXPECT_EQ(o.find("missing"), nullptr);
}

// --- broadcast -------------------------------------------------------------------------------------

TEST_F(AdminApiTest, EventNameRules) {
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "book50.BTC-USD");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"News", "'News' cannot name an event: an event name matches [a-z0-9_]{1,27}"},
        {"news-flash", "'news-flash' cannot name an event: an event name matches [a-z0-9_]{1,27}"},
        {std::string(28, 'a'), "'" + std::string(28, 'a') + "' cannot name an event: an event name is 1 to 27 characters"},
        {"welcome", "'welcome' cannot name an event: it is reserved (a message type or event of the protocol)"},
        {"error", "'error' cannot name an event: it is reserved (a message type or event of the protocol)"},
        {"connect_error", "'connect_error' cannot name an event: it is reserved (a message type or event of the protocol)"},
        {"disconnecting", "'disconnecting' cannot name an event: it is reserved (a message type or event of the protocol)"},
        {"ticker", "'ticker' cannot name an event: it is a channel of this gateway"},
        {"book50", "'book50' cannot name an event: it is a channel of this gateway"},
    };
    for (const auto& [event, reason] : cases) {
        auto r = call("POST", "/api/broadcast", R"({"event":")" + event + R"(","data":{}})");
        EXPECT_EQ(r.status, 400) << event;
        EXPECT_EQ(message_of(r).substr(0, reason.size()), reason) << r.body;
    }
    EXPECT_EQ(call("POST", "/api/broadcast", R"({"event":")" + std::string(27, 'a') + R"(","data":{}})").status, 200);
    EXPECT_EQ(call("POST", "/api/broadcast", R"({"event":"book","data":{}})").status, 200);  // no book topic here
}

TEST_F(AdminApiTest, BroadcastReachesEverySessionOfEveryWorkerInItsWire) {
    auto v1 = open(0, Wire::v1);
    auto sio = open(1, Wire::socketio);
    auto other = open(1, Wire::v1);
    auto r = call("POST", "/api/broadcast", R"({"event":"maintenance","data":{"at":"22:00","minutes":15}})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"delivered":3})");
    EXPECT_NE(r.action.find("broadcast 'maintenance'"), std::string::npos) << r.action;
    const auto got = texts(0, *v1);
    ASSERT_EQ(got.size(), 1u);
    auto m = json(got[0]);
    EXPECT_EQ(m["type"].GetString(), std::string("broadcast"));
    EXPECT_EQ(m["event"].GetString(), std::string("maintenance"));
    EXPECT_TRUE(m["ts"].IsInt64());
    EXPECT_EQ(got[0].substr(got[0].find(R"("data":)")), R"("data":{"at":"22:00","minutes":15}})");
    EXPECT_EQ(texts(1, *sio), std::vector<std::string>{R"(42["maintenance",{"at":"22:00","minutes":15}])"});
    EXPECT_EQ(texts(1, *other).size(), 1u);
}

TEST_F(AdminApiTest, BroadcastToATopicReachesOnlyItsSubscribers) {
    add_topic(0, "ticker.BTC-USD");
    add_topic(1, "ticker.ETH-USD");
    auto exact = open(0, Wire::v1);
    auto pattern = open(1, Wire::socketio);
    auto elsewhere = open(1, Wire::v1);
    on(workers[0], [&] { workers[0].registry().subscribe(*exact, std::vector<std::string>{"ticker.BTC-USD"}, 10); });
    on(workers[1], [&] {
        workers[1].registry().subscribe(*pattern, std::vector<std::string>{"*.BTC-USD"}, 10);
        workers[1].registry().subscribe(*elsewhere, std::vector<std::string>{"ticker.ETH-USD"}, 10);
    });
    auto r = call("POST", "/api/broadcast", R"({"event":"halt","data":"trading halted","topic":"ticker.BTC-USD"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"delivered":2})");
    EXPECT_EQ(texts(0, *exact).size(), 1u);
    EXPECT_EQ(texts(1, *pattern), std::vector<std::string>{R"(42["halt","trading halted"])"});
    EXPECT_TRUE(texts(1, *elsewhere).empty());

    EXPECT_EQ(message_of(call("POST", "/api/broadcast", R"({"event":"halt","data":1,"topic":"ticker.XRP-USD"})")),
              "no feed of this gateway publishes topic 'ticker.XRP-USD'");
    EXPECT_EQ(message_of(call("POST", "/api/broadcast", R"({"event":"halt","data":1,"topic":"ticker.*"})")),
              "field 'topic' must be an exact topic (channel.SYMBOL-QUOTE), got 'ticker.*'");
}

TEST_F(AdminApiTest, DataThatWouldNotFitHalfAQueueIsRefused) {
    auto s = open(0, Wire::v1);
    const std::string data = "\"" + std::string(config.max_queue_bytes / 2, 'x') + "\"";
    auto r = call("POST", "/api/broadcast", R"({"event":"news","data":)" + data + "}");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(message_of(r).find("half of --max-queue-bytes"), std::string::npos) << r.body;
    EXPECT_TRUE(texts(0, *s).empty());
}

// --- disconnect ------------------------------------------------------------------------------------

TEST_F(AdminApiTest, DisconnectBodyRules) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({})", "give exactly one of 'session' and 'user'"},
        {R"({"session":"a","user":"b"})", "give exactly one of 'session' and 'user'"},
        {R"({"user":5})", "field 'user' must be a string, not a number"},
        {R"({"session":""})", "field 'session' must not be empty"},
        {R"({"user":"a","code":3999})", "field 'code' must be an integer from 4000 to 4999"},
        {R"({"user":"a","code":5000})", "field 'code' must be an integer from 4000 to 4999"},
        {R"({"user":"a","code":4000.5})", "field 'code' must be an integer from 4000 to 4999"},
        {R"({"user":"a","code":4e3})", "field 'code' must be an integer from 4000 to 4999"},
        {R"({"user":"a","code":"4000"})", "field 'code' must be an integer from 4000 to 4999"},
        {R"({"user":"a","reason":7})", "field 'reason' must be a string"},
        {R"({"user":"a","reason":")" + std::string(124, 'r') + "\"}", "field 'reason' must be at most 123 bytes"},
    };
    for (const auto& [body, reason] : cases) {
        auto r = call("POST", "/api/disconnect", body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(message_of(r).substr(0, reason.size()), reason) << body << " -> " << r.body;
    }
    EXPECT_EQ(call("POST", "/api/disconnect", R"({"user":"a","reason":")" + std::string(123, 'r') + "\"}").body,
              R"({"disconnected":0})");
}

TEST_F(AdminApiTest, DisconnectBySessionClosesThatSessionWithTheCode) {
    auto target = open(0, Wire::v1);
    auto bystander = open(1, Wire::v1);
    auto r = call("POST", "/api/disconnect", R"({"session":")" + target->id() + R"(","code":4321,"reason":"bye"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"disconnected":1})");
    on(workers[0], [&] {
        EXPECT_TRUE(target->closing());
        EXPECT_EQ(target->close_code(), 4321);
        ASSERT_FALSE(target->sent.empty());
        EXPECT_EQ(target->sent.back().opcode, protocol::Opcode::close);
        EXPECT_EQ(target->sent.back().payload, std::string("\x10\xe1", 2) + "bye");  // 4321 big-endian
    });
    on(workers[1], [&] { EXPECT_FALSE(bystander->closing()); });
    // Closed is closed: a second call finds nothing.
    EXPECT_EQ(call("POST", "/api/disconnect", R"({"session":")" + target->id() + R"("})").body, R"({"disconnected":0})");
}

TEST_F(AdminApiTest, DisconnectByUserClosesEachOfTheirSessionsOnAnyWorkerSocketIoWithADisconnectFirst) {
    auto a = open(0, Wire::v1, "alice");
    auto b = open(1, Wire::socketio, "alice");
    auto bob = open(1, Wire::v1, "bob");
    auto anonymous = open(0, Wire::v1);
    auto r = call("POST", "/api/disconnect", R"({"user":"alice"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"disconnected":2})");
    EXPECT_NE(r.action.find("disconnect user \"alice\" with 4000: 2 sessions closed"), std::string::npos) << r.action;
    on(workers[0], [&] {
        EXPECT_EQ(a->close_code(), 4000);
        EXPECT_FALSE(anonymous->closing());
    });
    on(workers[1], [&] {
        EXPECT_EQ(b->close_code(), 4000);
        ASSERT_GE(b->sent.size(), 2u);
        EXPECT_EQ(b->sent[b->sent.size() - 2].payload, "41");  // DISCONNECT, then the close frame
        EXPECT_FALSE(bob->closing());
    });
}

// --- connections -----------------------------------------------------------------------------------

TEST_F(AdminApiTest, ConnectionsTotalsAndAPageWalkThatSeesEverySessionOnce) {
    add_topic(0, "ticker.BTC-USD");
    std::set<std::string> ids;
    for (unsigned i = 0; i < 5; ++i) ids.insert(open(i % 2, i == 4 ? Wire::socketio : Wire::v1, i < 2 ? std::optional<std::string>("alice") : std::nullopt)->id());
    auto first = call("GET", "/api/connections");
    ASSERT_EQ(first.status, 200) << first.body;
    auto d = json(first.body);
    EXPECT_EQ(d["totals"]["sessions"].GetInt(), 5);
    EXPECT_EQ(d["totals"]["by_protocol"]["v1"].GetInt(), 4);
    EXPECT_EQ(d["totals"]["by_protocol"]["socketio"].GetInt(), 1);
    EXPECT_EQ(d["totals"]["by_transport"]["websocket"].GetInt(), 5);
    EXPECT_EQ(d["totals"]["by_user"]["alice"].GetInt(), 2);
    EXPECT_EQ(d["totals"]["anonymous"].GetInt(), 3);
    EXPECT_TRUE(d["next"].IsNull());
    ASSERT_EQ(d["sessions"].Size(), 5u);
    const auto& s0 = d["sessions"][0];
    EXPECT_TRUE(s0["peer"].IsString());
    EXPECT_TRUE(s0["subscriptions"].IsInt());
    EXPECT_EQ(std::string(s0["connected_since"].GetString()).size(), 24u);  // 2026-12-02T16:53:23.123Z

    std::vector<std::string> walked;
    std::string after;
    for (int page = 0; page < 10; ++page) {
        auto r = call("GET", "/api/connections?limit=2" + (after.empty() ? "" : "&after=" + after));
        ASSERT_EQ(r.status, 200) << r.body;
        auto p = json(r.body);
        for (const auto& s : p["sessions"].GetArray()) walked.emplace_back(s["session"].GetString());
        if (p["next"].IsNull()) break;
        after = p["next"].GetString();
    }
    EXPECT_EQ(walked, std::vector<std::string>(ids.begin(), ids.end()));  // each once, in id order
}

TEST_F(AdminApiTest, ConnectionsLimitRules) {
    for (const auto* bad : {"limit=0", "limit=1001", "limit=abc", "limit=", "limit=-1", "limit=10.5"}) {
        auto r = call("GET", std::string("/api/connections?") + bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(message_of(r), "limit must be an integer from 1 to 1000") << bad;
    }
    EXPECT_EQ(call("GET", "/api/connections?limit=1000").status, 200);
    EXPECT_EQ(call("GET", "/api/connections?after=zzzz").status, 200);
}

TEST_F(AdminApiTest, CallsAreCountedByEndpointAndStatus) {
    call("GET", "/api/connections");
    call("GET", "/api/connections");
    call("GET", "/api/connections", {}, "");
    call("POST", "/api/broadcast", "[]");
    call("GET", "/elsewhere");
    api.count(Endpoint::broadcast, 413);
    std::map<std::pair<std::string, int>, std::uint64_t> counts;
    for (const auto& c : api.call_counts()) counts[{std::string(endpoint_name(c.endpoint)), c.status}] = c.calls;
    const std::map<std::pair<std::string, int>, std::uint64_t> want = {
        {{"connections", 200}, 2}, {{"connections", 401}, 1}, {{"broadcast", 400}, 1},
        {{"broadcast", 413}, 1},   {{"other", 404}, 1}};
    EXPECT_EQ(counts, want);
}

// --- publish ----------------------------------------------------------------------------------------

/// The API with a running engine sequencing rooms of the publishable channel chat, as a gateway
/// without NATS does.
class AdminPublishTest : public AdminApiTest {
protected:
    AdminPublishTest() {
        config.publish_channels = {"chat"};
        config.publish_rate = 5;
        config.max_publish_topics = 2;
        engine = std::make_unique<BroadcastEngine>(config, channel, std::vector<std::string>{"sim"},
                                                   std::vector<Worker*>{&workers[0], &workers[1]}, newest);
        engine->start();
    }
    ~AdminPublishTest() override {
        engine->stop();
        // The workers stop before `engine` goes (as the Server does): worker 0 may still run a
        // handler of the stopped engine, which reads its Loop.
        for (auto& w : workers) {
            w.stop();
            w.join();
        }
    }

    std::shared_ptr<CapturingSession> subscriber(unsigned w, Wire wire, std::string_view entry) {
        auto s = open(w, wire);
        on(workers[w], [&] {
            workers[w].registry().subscribe(*s, std::vector<std::string>{std::string(entry)}, 10,
                                            config.publish_channels);
        });
        return s;
    }
    /// The texts `s` received, once there are `n` of them (the workers deliver after the answer),
    /// or after 2 s.
    std::vector<std::string> wait_texts(unsigned w, CapturingSession& s, std::size_t n) {
        std::vector<std::string> got;
        for (int i = 0; i < 2000 && got.size() < n; ++i) {
            for (auto& t : texts(w, s)) got.push_back(std::move(t));
            if (got.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return got;
    }

    feeds::UpdateChannel channel{1024};
    NewestSeqTable newest{64};
    std::unique_ptr<BroadcastEngine> engine;
};

TEST_F(AdminPublishTest, APublishIsSequencedAndReachesTheRoomsSubscribersFromAdmin) {
    AdminApi api{key, {&workers[0], &workers[1]}, config, engine.get()};
    auto v1 = subscriber(0, Wire::v1, "chat.lobby");
    auto sio = subscriber(1, Wire::socketio, "chat.*");
    auto r = api.handle(Request{"POST", "/api/publish", "Bearer " + std::string(kKey),
                                R"({"topic":"chat.lobby","data":{"text":"welcome", "n":1.50}})"});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"topic":"chat.lobby","seq":1})");
    EXPECT_NE(r.action.find("publish to \"chat.lobby\""), std::string::npos) << r.action;
    r = api.handle(Request{"POST", "/api/publish", "Bearer " + std::string(kKey), R"({"topic":"chat.lobby","data":2})"});
    EXPECT_EQ(r.body, R"({"topic":"chat.lobby","seq":2})");

    const auto got = wait_texts(0, *v1, 2);
    ASSERT_EQ(got.size(), 2u);
    auto m = json(got[0]);
    EXPECT_EQ(m["type"].GetString(), std::string("chat"));
    EXPECT_EQ(m["topic"].GetString(), std::string("chat.lobby"));
    EXPECT_EQ(m["seq"].GetUint64(), 1u);
    EXPECT_EQ(m["from"].GetString(), std::string("admin"));
    EXPECT_EQ(got[0].substr(got[0].find(R"("data":)")), R"("data":{"text":"welcome","n":1.50}})");  // as sent, compact
    EXPECT_EQ(json(got[1])["seq"].GetUint64(), 2u);
    const auto events = wait_texts(1, *sio, 2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].rfind(R"(42["chat",)", 0), 0u) << events[0];
    EXPECT_NE(events[0].find(R"("from":"admin")"), std::string::npos) << events[0];
}

TEST_F(AdminPublishTest, RefusalsSayWhyAndDeliverNothing) {
    AdminApi api{key, {&workers[0], &workers[1]}, config, engine.get()};
    auto s = subscriber(0, Wire::v1, "chat.lobby");
    struct Case {
        std::string body;
        int status;
        std::string error, message;
    };
    const std::vector<Case> cases = {
        {R"({"topic":"ticker.BTC-USD","data":1})", 403, "forbidden", "'ticker' is a market-data channel: never published to"},
        {R"({"topic":"book.lobby","data":1})", 403, "forbidden", "'book' is a market-data channel"},
        {R"({"topic":"news.lobby","data":1})", 403, "forbidden", "channel 'news' is not publishable (--publish-channels)"},
        {R"({"topic":"chat.*","data":1})", 400, "bad_request", "field 'topic' must be one room (channel.room), not a pattern"},
        {R"({"topic":"chat.Lobby!","data":1})", 400, "bad_request", "field 'topic' must be a room: channel.room"},
        {R"({"data":1})", 400, "bad_request", "field 'topic' is required"},
        {R"({"topic":"chat.lobby"})", 400, "bad_request", "field 'data' is required (any JSON value)"},
        {R"({"topic":"chat.lobby","data":")" + std::string(4096, 'x') + R"("})", 400, "bad_request",
         "field 'data' is 4098 bytes; a message carries at most 4096"},
        {R"({"topic":"chat.lobby","data":)", 400, "bad_request", "malformed JSON"},
    };
    for (const auto& c : cases) {
        auto r = api.handle(Request{"POST", "/api/publish", "Bearer " + std::string(kKey), c.body});
        EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
        EXPECT_EQ(json(r.body)["error"].GetString(), c.error) << r.body;
        EXPECT_EQ(message_of(r).substr(0, c.message.size()), c.message) << r.body;
    }
    // The API still works after every refusal, and nothing refused reached the room.
    EXPECT_EQ(api.handle(Request{"POST", "/api/publish", "Bearer " + std::string(kKey), R"({"topic":"chat.lobby","data":0})"})
                  .body,
              R"({"topic":"chat.lobby","seq":1})");
    EXPECT_EQ(wait_texts(0, *s, 1).size(), 1u);
    EXPECT_EQ(call("GET", "/api/publish").status, 405);
}

TEST_F(AdminPublishTest, TheEnginesLimitsBecome429And400AndAStoppedEngine503) {
    AdminApi api{key, {&workers[0], &workers[1]}, config, engine.get()};
    auto publish = [&](std::string_view topic) {
        return api.handle(Request{"POST", "/api/publish", "Bearer " + std::string(kKey),
                                  R"({"topic":")" + std::string(topic) + R"(","data":"x"})"});
    };
    EXPECT_EQ(publish("chat.one").status, 200);
    EXPECT_EQ(publish("chat.two").status, 200);
    auto r = publish("chat.three");  // --max-publish-topics 2
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(json(r.body)["error"].GetString(), std::string("too_many_topics"));
    // --publish-rate 5 (a bucket of one second's worth, three taken above): a 429 comes within a few
    // more, whatever the bucket refilled meanwhile.
    int ok = 0;
    for (int i = 0; i < 20 && r.status != 429; ++i) {
        r = publish("chat.one");
        ok += r.status == 200;
    }
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(json(r.body)["error"].GetString(), std::string("rate_limited"));
    EXPECT_LE(ok, 4);
    engine->stop();
    r = publish("chat.one");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(json(r.body)["error"].GetString(), std::string("unavailable"));
    std::map<int, std::uint64_t> by_status;
    for (const auto& c : api.call_counts())
        if (c.endpoint == Endpoint::publish) by_status[c.status] = c.calls;
    EXPECT_EQ(by_status[400], 1u);
    EXPECT_EQ(by_status[429], 1u);
    EXPECT_EQ(by_status[503], 1u);
}

TEST_F(AdminPublishTest, APublishableChannelCannotNameAnEventBeforeItHasARoom) {
    // No room of chat exists yet, so no topic of that channel: the name is refused all the same.
    auto r = call("POST", "/api/broadcast", R"({"event":"chat","data":{}})");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(message_of(r).substr(0, 52), "'chat' cannot name an event: it is a channel of this");
    EXPECT_EQ(call("POST", "/api/broadcast", R"({"event":"chat2","data":{}})").status, 200);
}

}  // namespace
}  // namespace tickgate::gateway::admin
