#include "protocol/socketio.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/engineio.hpp"
#include "protocol/messages.hpp"
#include "protocol/socketio_events.hpp"

namespace tp = tickgate::protocol;
namespace eio = tickgate::protocol::engineio;
namespace sio = tickgate::protocol::socketio;
using sio::DecodeError;
using sio::PacketType;

namespace {

sio::Packet ok(std::string_view text) {
    sio::Packet p;
    const DecodeError e = sio::decode(text, p);
    EXPECT_EQ(e, DecodeError::none) << text << " -> " << sio::decode_error_name(e);
    return p;
}

DecodeError err(std::string_view text, std::size_t max_bytes = sio::kDefaultMaxPacketBytes) {
    sio::Packet p;
    return sio::decode(text, p, max_bytes);
}

/// A whole client WebSocket frame through both layers, as the gateway will do it.
sio::Packet from_frame(std::string_view frame) {
    eio::Packet ep;
    EXPECT_EQ(eio::decode_text_packet(frame, ep), eio::DecodeError::none) << frame;
    EXPECT_EQ(ep.type, eio::PacketType::message) << frame;
    return ok(ep.data);
}

tp::Request request(std::string_view frame) {
    const sio::Packet p = from_frame(frame);
    auto r = sio::event_to_request(p);
    if (auto* e = std::get_if<tp::RequestError>(&r)) {
        ADD_FAILURE() << frame << " -> " << e->message;
        return {};
    }
    return std::get<tp::Request>(r);
}

tp::RequestError request_error(std::string_view frame) {
    const sio::Packet p = from_frame(frame);
    auto r = sio::event_to_request(p);
    if (!std::holds_alternative<tp::RequestError>(r)) {
        ADD_FAILURE() << frame << " was accepted";
        return {};
    }
    return std::get<tp::RequestError>(r);
}

using Strings = std::vector<std::string>;
using Views = std::vector<std::string_view>;

}  // namespace

// --- decoding: valid packets of every type, with the encodings of the Socket.IO spec ------------

TEST(SocketIoDecode, Connect) {
    auto p = ok("0");
    EXPECT_EQ(p.type, PacketType::connect);
    EXPECT_EQ(p.nsp, "/");
    EXPECT_EQ(p.data, "");
    EXPECT_FALSE(p.ack_id);

    p = ok(R"(0{"token":"123"})");
    EXPECT_EQ(p.nsp, "/");
    EXPECT_EQ(p.data, R"({"token":"123"})");

    p = ok("0/admin,");
    EXPECT_EQ(p.nsp, "/admin");
    EXPECT_EQ(p.data, "");

    p = ok(R"(0/admin,{"token":"abc"})");
    EXPECT_EQ(p.nsp, "/admin");
    EXPECT_EQ(p.data, R"({"token":"abc"})");

    // socket.io's parser takes the namespace up to the end when there is no comma; the protocol
    // test suite connects to "/random" and to "/custom" that way.
    EXPECT_EQ(ok("0/random").nsp, "/random");
    EXPECT_EQ(ok("0/,").nsp, "/");
}

TEST(SocketIoDecode, Disconnect) {
    EXPECT_EQ(ok("1").type, PacketType::disconnect);
    EXPECT_EQ(ok("1/admin,").nsp, "/admin");
}

TEST(SocketIoDecode, Event) {
    auto p = ok(R"(2["foo"])");
    EXPECT_EQ(p.type, PacketType::event);
    EXPECT_EQ(p.event, "foo");
    EXPECT_TRUE(p.args.empty());
    EXPECT_FALSE(p.ack_id);

    p = ok(R"(2/admin,["bar"])");
    EXPECT_EQ(p.nsp, "/admin");
    EXPECT_EQ(p.event, "bar");

    p = ok(R"(212["foo"])");
    EXPECT_EQ(p.ack_id, 12u);
    p = ok(R"(2/admin,13["foo"])");
    EXPECT_EQ(p.nsp, "/admin");
    EXPECT_EQ(p.ack_id, 13u);

    // The protocol test suite's plain-text packet; arguments come back as their raw JSON.
    p = ok(R"(2["message",1,"2",{"3":[true]}])");
    EXPECT_EQ(p.event, "message");
    EXPECT_EQ(p.args, (Views{"1", R"("2")", R"({"3":[true]})"}));
    EXPECT_EQ(p.data, R"(["message",1,"2",{"3":[true]}])");
}

TEST(SocketIoDecode, EventArgumentsKeepTheirExactText) {
    // Whitespace, escapes, brackets and commas inside strings, nesting: each argument is a view
    // of exactly its own JSON text.
    const auto p = ok(R"(2 [ "a\"b" , [1, [2,"]"]] ,{"k":"v,}"},  -1.5e3 ,null,true ] )");
    EXPECT_EQ(p.event, "a\"b");
    EXPECT_EQ(p.args, (Views{R"([1, [2,"]"]])", R"({"k":"v,}"})", "-1.5e3", "null", "true"}));
    EXPECT_EQ(ok(R"(2["\u0073ub"])").event, "sub");  // escapes in the name are resolved
}

TEST(SocketIoDecode, EventNameWithALoneSurrogateIsRefused) {
    // Valid UTF-8 on the wire, but the escape decodes to half a surrogate pair: not a string that
    // can be echoed back in an error (found by socketio_fuzz).
    EXPECT_EQ(err(R"(2["\uDCCC",1])"), DecodeError::bad_json);
    EXPECT_EQ(err(R"(2["\uD83D",1])"), DecodeError::bad_json);
    EXPECT_EQ(ok(R"(2["\uD83D\uDE00",1])").event, "\xF0\x9F\x98\x80") << "a whole pair is fine";
}

TEST(SocketIoDecode, Ack) {
    auto p = ok("312[]");
    EXPECT_EQ(p.type, PacketType::ack);
    EXPECT_EQ(p.ack_id, 12u);
    EXPECT_TRUE(p.args.empty());
    p = ok(R"(3/admin,13["bar"])");
    EXPECT_EQ(p.nsp, "/admin");
    EXPECT_EQ(p.ack_id, 13u);
    EXPECT_EQ(p.args, Views{R"("bar")"});
}

TEST(SocketIoDecode, ConnectError) {
    auto p = ok(R"(4{"message":"Not authorized"})");
    EXPECT_EQ(p.type, PacketType::connect_error);
    EXPECT_EQ(p.data, R"({"message":"Not authorized"})");
    EXPECT_EQ(ok(R"(4"text")").data, R"("text")");
}

TEST(SocketIoDecode, AckIdBounds) {
    EXPECT_EQ(ok(R"(20["a"])").ack_id, 0u);
    EXPECT_EQ(ok(R"(29007199254740991["a"])").ack_id, sio::kMaxAckId);
    EXPECT_EQ(err(R"(29007199254740992["a"])"), DecodeError::bad_ack_id);
    EXPECT_EQ(err(R"(2999999999999999999999["a"])"), DecodeError::bad_ack_id);
    EXPECT_EQ(err("3[]"), DecodeError::bad_ack_id);       // an ACK must say what it acknowledges
    EXPECT_EQ(err("05"), DecodeError::bad_ack_id);        // only events and acks carry ids
    EXPECT_EQ(err("0/admin,5{}"), DecodeError::bad_ack_id);
    EXPECT_EQ(err("15"), DecodeError::bad_ack_id);
    // The protocol test suite's "invalid ack id": not digits, so it is read as the payload.
    EXPECT_EQ(err(R"(2abc["message-with-ack",1,"2",{"3":[false]}])"), DecodeError::bad_json);
}

// --- decoding: malformed packets --------------------------------------------------------------

TEST(SocketIoDecode, Malformed) {
    EXPECT_EQ(err(""), DecodeError::empty);
    EXPECT_EQ(err("abc"), DecodeError::unknown_type);  // the test suite's "4abc" minus the Engine.IO '4'
    EXPECT_EQ(err("7"), DecodeError::unknown_type);
    EXPECT_EQ(err("/"), DecodeError::unknown_type);
    EXPECT_EQ(err("{}"), DecodeError::unknown_type);
    // Payload shapes (the test suite's "invalid payload format" is 42{}).
    EXPECT_EQ(err("2{}"), DecodeError::bad_payload);
    EXPECT_EQ(err("2"), DecodeError::bad_payload);
    EXPECT_EQ(err("2[]"), DecodeError::bad_payload);
    EXPECT_EQ(err("2[1]"), DecodeError::bad_payload);
    EXPECT_EQ(err(R"(2"x")"), DecodeError::bad_payload);
    EXPECT_EQ(err("2/admin,"), DecodeError::bad_payload);
    EXPECT_EQ(err("312"), DecodeError::bad_payload);
    EXPECT_EQ(err("312{}"), DecodeError::bad_payload);
    EXPECT_EQ(err("0[]"), DecodeError::bad_payload);
    EXPECT_EQ(err(R"(0"tok")"), DecodeError::bad_payload);
    EXPECT_EQ(err("1{}"), DecodeError::bad_payload);
    EXPECT_EQ(err("4[]"), DecodeError::bad_payload);
    // JSON itself.
    for (const char* bad : {R"(2["a")", R"(2["a"]x)", R"(2["a"][])", "2[\"a\",]", "2['a']", "2[\"\xC3\x28\"]",
                            "0{", "2 ",
                            // RapidJSON alone would skip these (partial) byte order marks; found by the fuzzer.
                            "32\xBB[\n]", "2\xEF\xBB\xBF[\"a\"]", "0\xEF{}"}) {
        EXPECT_EQ(err(bad), DecodeError::bad_json) << bad;
    }
}

TEST(SocketIoDecode, ReservedEventNames) {
    for (const char* name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                             "removeListener"}) {
        EXPECT_EQ(err(std::string("2[\"") + name + "\"]"), DecodeError::reserved_event) << name;
    }
    EXPECT_EQ(ok(R"(2["error"])").event, "error");
}

TEST(SocketIoDecode, BinaryPacketsAreRefused) {
    EXPECT_EQ(err(R"(51-["baz",{"_placeholder":true,"num":0}])"), DecodeError::binary_unsupported);
    EXPECT_EQ(err(R"(61-15["bar",{"_placeholder":true,"num":0}])"), DecodeError::binary_unsupported);
    EXPECT_EQ(err("5"), DecodeError::binary_unsupported);
}

TEST(SocketIoDecode, BadNamespaces) {
    EXPECT_EQ(err("0/" + std::string(sio::kMaxNamespaceLength, 'a') + ","), DecodeError::bad_namespace);
    EXPECT_EQ(ok("0/" + std::string(sio::kMaxNamespaceLength - 1, 'a') + ",").nsp.size(), sio::kMaxNamespaceLength);
    EXPECT_EQ(err("0/ad\nmin,"), DecodeError::bad_namespace);
    EXPECT_EQ(err(std::string("0/ad\0min,", 9)), DecodeError::bad_namespace);
    EXPECT_EQ(err("0/ad\xFFmin,"), DecodeError::bad_namespace);
    EXPECT_EQ(ok("0/caf\xC3\xA9,").nsp, "/caf\xC3\xA9");
}

TEST(SocketIoDecode, Bounds) {
    EXPECT_EQ(err(R"(2["a"])", 5), DecodeError::too_big);
    EXPECT_EQ(ok(R"(2["a"])").args.size(), 0u);
    std::string many = R"(2["a")";
    for (std::size_t i = 0; i < sio::kMaxArgs; ++i) many += ",0";
    EXPECT_EQ(ok(many + "]").args.size(), sio::kMaxArgs);
    EXPECT_EQ(err(many + ",0]"), DecodeError::too_many_args);
    std::string ack = "31[0";
    for (std::size_t i = 1; i < sio::kMaxArgs; ++i) ack += ",0";
    EXPECT_EQ(ok(ack + "]").args.size(), sio::kMaxArgs);
    EXPECT_EQ(err(ack + ",0]"), DecodeError::too_many_args);
}

TEST(SocketIoDecode, DeepNestingDoesNotRecurse) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const auto p = ok(R"(2["a",)" + deep + "]");
    ASSERT_EQ(p.args.size(), 1u);
    EXPECT_EQ(p.args[0].size(), deep.size());
}

TEST(SocketIoDecode, PacketIsResetBetweenCalls) {
    sio::Packet p;
    ASSERT_EQ(sio::decode(R"(2/admin,7["a",1])", p), DecodeError::none);
    ASSERT_EQ(sio::decode("0", p), DecodeError::none);
    EXPECT_EQ(p.nsp, "/");
    EXPECT_FALSE(p.ack_id);
    EXPECT_EQ(p.event, "");
    EXPECT_TRUE(p.args.empty());
}

// --- encoders: exact bytes the server sends ---------------------------------------------------

TEST(SocketIoEncode, Event) {
    const std::string update = R"({"type":"ticker","topic":"ticker.BTC-USD","seq":1})";
    std::string out;
    sio::encode_event("ticker", update, out);
    EXPECT_EQ(out, R"(42["ticker",{"type":"ticker","topic":"ticker.BTC-USD","seq":1}])");

    std::string halves;
    sio::begin_event("ticker", halves);
    halves += update;
    sio::end_event(halves);
    EXPECT_EQ(halves, out);

    out.clear();
    sio::encode_event("we\"ird\n", "1", out);  // names that need escaping still come out as JSON
    EXPECT_EQ(out, R"(42["we\"ird\u000A",1])");
}

TEST(SocketIoEncode, EventDecodesBack) {
    std::string welcome;
    tp::encode_welcome("3f9c0a1b", "0.1.0", 20000, {}, welcome);
    std::string frame;
    sio::encode_event("welcome", welcome, frame);
    const sio::Packet p = from_frame(frame);
    EXPECT_EQ(p.event, "welcome");
    EXPECT_EQ(p.args, Views{welcome});
}

TEST(SocketIoEncode, Ack) {
    std::string out;
    sio::encode_ack(0, R"({"topics":["ticker.BTC-USD"]})", out);
    EXPECT_EQ(out, R"(430[{"topics":["ticker.BTC-USD"]}])");
    out.clear();
    sio::encode_ack(456, "", out);
    EXPECT_EQ(out, "43456[]");
    out.clear();
    sio::encode_ack(sio::kMaxAckId, "1", out);
    EXPECT_EQ(out, "439007199254740991[1]");
    const sio::Packet p = from_frame(out);
    EXPECT_EQ(p.type, PacketType::ack);
    EXPECT_EQ(p.ack_id, sio::kMaxAckId);
}

TEST(SocketIoEncode, ConnectAndErrors) {
    std::string out;
    sio::encode_connect("wZX3oN0bSVIhsaknAAAI", out);
    EXPECT_EQ(out, R"(40{"sid":"wZX3oN0bSVIhsaknAAAI"})");
    out.clear();
    sio::encode_connect_error("/", "Not authorized", out);
    EXPECT_EQ(out, R"(44{"message":"Not authorized"})");
    out.clear();
    // What the protocol test suite expects for "40/random".
    sio::encode_connect_error(ok("0/random").nsp, "Invalid namespace", out);
    EXPECT_EQ(out, R"(44/random,{"message":"Invalid namespace"})");
    out.clear();
    sio::encode_disconnect("/", out);
    EXPECT_EQ(out, "41");
    out.clear();
    sio::encode_disconnect("/admin", out);
    EXPECT_EQ(out, "41/admin,");
}

// --- connection state recovery (Socket.IO 4.6+) ---------------------------------------------

TEST(SocketIoRecovery, ConnectReplyCarriesThePid) {
    std::string out;
    sio::encode_connect("wZX3oN0bSVIhsakn", "9f3c0a7e1b2d4c5e8f60718293a4b5c6", out);
    EXPECT_EQ(out, R"(40{"sid":"wZX3oN0bSVIhsakn","pid":"9f3c0a7e1b2d4c5e8f60718293a4b5c6"})");
    // What socket.io-client reads of it: packet.data.sid and packet.data.pid.
    const sio::Packet p = from_frame(out);
    EXPECT_EQ(p.type, PacketType::connect);
    EXPECT_EQ(p.data, R"({"sid":"wZX3oN0bSVIhsakn","pid":"9f3c0a7e1b2d4c5e8f60718293a4b5c6"})");
}

TEST(SocketIoRecovery, ClaimFromTheClientsConnectPayload) {
    // socket.io-client 4.x: Object.assign({pid, offset}, auth), so pid and offset come first.
    const auto claim = sio::connect_recovery_claim(R"({"pid":"9f3c0a7e","offset":"18446744073709551615","token":"t"})");
    ASSERT_TRUE(claim);
    EXPECT_EQ(claim->pid, "9f3c0a7e");
    EXPECT_EQ(claim->offset, 18446744073709551615ull);
    const auto base64url = sio::connect_recovery_claim(R"({"offset":"42","pid":"aZ09_-"})");
    ASSERT_TRUE(base64url);
    EXPECT_EQ(base64url->pid, "aZ09_-");
    EXPECT_EQ(base64url->offset, 42u);
}

TEST(SocketIoRecovery, NoClaimWithoutBothStringsOrWithAnOffsetThatIsNotOurs) {
    for (const char* payload : {
             "",                                              // a first CONNECT: "40"
             R"({"token":"t"})",                              // auth only
             R"({"pid":"abc"})",                              // no event received yet: offset undefined, dropped by JSON
             R"({"offset":"12"})",                            // no pid
             R"({"pid":"abc","offset":12})",                  // offset not a string
             R"({"pid":7,"offset":"12"})",                    // pid not a string
             R"({"pid":"","offset":"12"})",                   // empty pid
             R"({"pid":"a b","offset":"12"})",                // not a pid we could have given
             R"({"pid":"abc","offset":""})",                  // empty offset
             R"({"pid":"abc","offset":"-1"})",                // not decimal digits
             R"({"pid":"abc","offset":"12x"})",
             R"({"pid":"abc","offset":"18446744073709551616"})",  // past 64 bits
             R"({"pid":"abc","offset":"123456789012345678901"})",
             R"(["pid","abc"])",                              // not an object
             R"({"pid":"abc","offset":"12")",                 // not JSON
         })
        EXPECT_FALSE(sio::connect_recovery_claim(payload)) << payload;
    EXPECT_FALSE(sio::connect_recovery_claim(R"({"pid":")" + std::string(sio::kMaxPidLength + 1, 'a') +
                                             R"(","offset":"1"})"));
    EXPECT_TRUE(sio::connect_recovery_claim(R"({"pid":")" + std::string(sio::kMaxPidLength, 'a') +
                                            R"(","offset":"1"})"));
}

// --- a socket.io-client 4.x session, frame by frame -------------------------------------------

TEST(SocketIoClientSession, ConnectThenEmitWithAck) {
    // io(url) over WebSocket: the server speaks first with the open packet.
    std::string open;
    eio::encode_open({"lv_VI97HAXpY6yYWAAAC", false}, open);
    EXPECT_EQ(open.substr(0, 9), "0{\"sid\":\"");

    // Client: "40" (CONNECT to "/").
    sio::Packet connect = from_frame("40");
    EXPECT_EQ(connect.type, PacketType::connect);
    EXPECT_EQ(connect.nsp, "/");
    // Server: CONNECT accepted, then the welcome event.
    std::string reply;
    sio::encode_connect("wZX3oN0bSVIhsaknAAAI", reply);
    EXPECT_EQ(reply, R"(40{"sid":"wZX3oN0bSVIhsaknAAAI"})");

    // Client: emit('subscribe', ['ticker.BTC-USD'], cb) -- socket.io-client's first ack id is 0.
    const sio::Packet sub = from_frame(R"(420["subscribe",["ticker.BTC-USD"]])");
    EXPECT_EQ(sub.ack_id, 0u);
    EXPECT_EQ(sub.event, "subscribe");
    const tp::Request req = request(R"(420["subscribe",["ticker.BTC-USD"]])");
    EXPECT_EQ(req.op, tp::Op::subscribe);
    EXPECT_EQ(req.topics, Strings{"ticker.BTC-USD"});
    EXPECT_EQ(req.id_json, "");
    // Server: the ack, then the snapshot as a channel event.
    reply.clear();
    sio::encode_ack(*sub.ack_id, R"({"topics":["ticker.BTC-USD"]})", reply);
    EXPECT_EQ(reply, R"(430[{"topics":["ticker.BTC-USD"]}])");

    // Heartbeat: the server pings, the client pongs.
    eio::Packet pong;
    ASSERT_EQ(eio::decode_text_packet("3", pong), eio::DecodeError::none);
    EXPECT_EQ(pong.type, eio::PacketType::pong);
}

TEST(SocketIoClientSession, PollingUpgrade) {
    // GET -> open packet; POST "40"; upgrade: "2probe" -> "3probe", noop to the pending GET, "5".
    std::vector<eio::Packet> packets;
    std::string storage;
    ASSERT_EQ(eio::decode_payload("40", {}, packets, storage), eio::DecodeError::none);
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(ok(packets[0].data).type, PacketType::connect);

    eio::Packet probe;
    ASSERT_EQ(eio::decode_text_packet("2probe", probe), eio::DecodeError::none);
    EXPECT_EQ(probe.type, eio::PacketType::ping);
    EXPECT_EQ(probe.data, "probe");
    eio::Packet upgrade;
    ASSERT_EQ(eio::decode_text_packet("5", upgrade), eio::DecodeError::none);
    EXPECT_EQ(upgrade.type, eio::PacketType::upgrade);

    // Frames queued for the session, joined into one GET response.
    std::string body;
    eio::append_to_payload(R"(40{"sid":"x"})", body);
    std::string event;
    sio::encode_event("welcome", R"({"type":"welcome"})", event);
    eio::append_to_payload(event, body);
    EXPECT_EQ(body, "40{\"sid\":\"x\"}\x1e" R"(42["welcome",{"type":"welcome"}])");
}

// --- events mapped to v1 requests -------------------------------------------------------------

TEST(SocketIoEvents, SubscribeForms) {
    auto r = request(R"(42["subscribe",["ticker.BTC-USD","ticker.*"]])");
    EXPECT_EQ(r.op, tp::Op::subscribe);
    EXPECT_EQ(r.topics, (Strings{"ticker.BTC-USD", "ticker.*"}));
    r = request(R"(42["subscribe","ticker.BTC-USD"])");
    EXPECT_EQ(r.topics, Strings{"ticker.BTC-USD"});
    r = request(R"(4217["unsubscribe",["ticker.*"]])");
    EXPECT_EQ(r.op, tp::Op::unsubscribe);
    EXPECT_EQ(r.topics, Strings{"ticker.*"});
    // Entries are not validated here (as with v1): the subscription logic reports bad topics.
    EXPECT_EQ(request(R"(42["subscribe",["Bad Topic",""]])").topics, (Strings{"Bad Topic", ""}));
}

// A resume: {topics, since} as the one argument, under the v1 request's rules.
TEST(SocketIoEvents, SubscribeWithSince) {
    auto r = request(R"(421["subscribe",{"topics":["trade.*"],"since":{"trade.BTC-USD":{"epoch":"00000000000000e1","seq":7}}}])");
    EXPECT_EQ(r.op, tp::Op::subscribe);
    EXPECT_EQ(r.topics, Strings{"trade.*"});
    ASSERT_EQ(r.since.size(), 1u);
    EXPECT_EQ(r.since[0].topic, "trade.BTC-USD");
    EXPECT_EQ(r.since[0].epoch, 0xe1u);
    EXPECT_EQ(r.since[0].seq, 7u);
    EXPECT_TRUE(request(R"(42["subscribe",{"topics":["trade.*"]}])").since.empty());
    auto e = request_error(R"(42["subscribe",{"topics":["trade.*"],"since":{"ticker.BTC-USD":{"epoch":"e1","seq":1}}}])");
    EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
    EXPECT_EQ(e.message, "field 'since': 'ticker.BTC-USD' is not covered by this request's topics");
    e = request_error(R"(42["subscribe",{"since":{}}])");
    EXPECT_EQ(e.message, "field 'topics' is required for subscribe");
}

TEST(SocketIoEvents, ListAndPing) {
    EXPECT_EQ(request(R"(421["list"])").op, tp::Op::list);
    EXPECT_EQ(request(R"(422["ping"])").op, tp::Op::ping);
    EXPECT_EQ(request(R"(42["ping",{"ignored":true}])").op, tp::Op::ping);
}

TEST(SocketIoEvents, SendOfAV1Request) {
    // socket.send({op:"subscribe",id:1,topics:["ticker.BTC-USD"]}) is emit("message", {...}).
    const auto r = request(R"(42["message",{"op":"subscribe","id":1,"topics":["ticker.BTC-USD"]}])");
    EXPECT_EQ(r.op, tp::Op::subscribe);
    EXPECT_EQ(r.id_json, "1");
    EXPECT_EQ(r.topics, Strings{"ticker.BTC-USD"});
    EXPECT_EQ(request(R"(42["message",{"op":"list","id":"l1"}])").id_json, "\"l1\"");

    // Its replies are v1 objects in "message" events.
    std::string v1, out;
    tp::encode_pong("4", 1764090000123456789, v1);
    sio::encode_event(sio::kMessageEvent, v1, out);
    EXPECT_EQ(out, R"(42["message",{"type":"pong","id":4,"ts":1764090000123456789}])");
}

TEST(SocketIoEvents, WrongShapes) {
    for (const char* frame : {R"(42["subscribe"])", R"(42["subscribe",[]])", R"(42["subscribe",[1]])",
                              R"(42["unsubscribe",{"topics":["a"]}])", R"(42["subscribe",["a"],["b"]])",
                              R"(42["unsubscribe",null])", R"(42["subscribe",["a",null]])"}) {
        const auto e = request_error(frame);
        EXPECT_EQ(e.code, tp::ErrorCode::bad_request) << frame;
        EXPECT_NE(e.message.find("takes one argument"), std::string::npos) << frame << ": " << e.message;
    }
    std::string many = R"(42["subscribe",[)";
    for (int i = 0; i < 1001; ++i) many += i ? ",\"t\"" : "\"t\"";
    EXPECT_NE(request_error(many + "]]").message.find("more than 1000"), std::string::npos);
}

TEST(SocketIoEvents, UnknownEventAndBadMessages) {
    auto e = request_error(R"(42["subscribed",["x"]])");
    EXPECT_EQ(e.message,
              "unknown event 'subscribed'; expected subscribe, unsubscribe, list, ping, auth, refresh, publish or "
              "message");
    e = request_error("42[\"" + std::string(300, 'x') + "\"]");
    EXPECT_LT(e.message.size(), 170u);  // the name is cut to 64 bytes

    e = request_error(R"(42["message"])");
    EXPECT_NE(e.message.find("v1 request object"), std::string::npos);
    // parse_request's own errors come through, with the id when it was readable.
    e = request_error(R"(42["message","hello"])");
    EXPECT_EQ(e.message, "request must be a JSON object");
    e = request_error(R"(42["message",{"op":"dance","id":9}])");
    EXPECT_EQ(e.id_json, "9");
    EXPECT_NE(e.message.find("unknown op"), std::string::npos);

    sio::Packet not_event = ok("0");
    EXPECT_TRUE(std::holds_alternative<tp::RequestError>(sio::event_to_request(not_event)));
}
