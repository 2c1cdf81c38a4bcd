#include "protocol/socketio_events.hpp"

#include <rapidjson/document.h>

#include <string>

#include "protocol/json_text.hpp"
#include "protocol/messages.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::protocol::socketio {
namespace {

constexpr std::size_t kMaxTopicsPerRequest = 1000;  // as for a v1 request
constexpr std::size_t kMaxEchoedNameBytes = 64;

using Allocator = rapidjson::MemoryPoolAllocator<>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator, rapidjson::CrtAllocator>;
using Value = Document::ValueType;

RequestError bad_request(std::string message) { return RequestError{ErrorCode::bad_request, std::move(message), {}}; }

/// subscribe / unsubscribe: exactly one argument, a topic string or a non-empty array of them.
std::variant<Request, RequestError> topics_request(Op op, std::string_view name, const Packet& event) {
    const std::string usage = "event '" + std::string(name) +
                              "' takes one argument: a topic string or a non-empty array of topic strings" +
                              (op == Op::subscribe ? ", or {topics, since}" : "");
    if (event.args.size() != 1) return bad_request(usage);

    // decode() validated the whole payload, so this parse of one of its elements cannot fail.
    alignas(16) char pool[2048];
    Allocator allocator(pool, sizeof pool);
    Document doc(&allocator);
    const std::string_view arg = event.args[0];
    doc.Parse<rapidjson::kParseIterativeFlag>(arg.data(), arg.size());
    if (doc.HasParseError()) return bad_request(usage);

    Request req;
    req.op = op;
    if (doc.IsString()) {
        req.topics.emplace_back(doc.GetString(), doc.GetStringLength());
        return req;
    }
    // {topics, since}: a resume (protocol/README.md, "Resume"), under the v1 request's rules.
    if (doc.IsObject() && op == Op::subscribe) return parse_subscribe_object(arg);
    if (!doc.IsArray() || doc.Empty()) return bad_request(usage);
    if (doc.Size() > kMaxTopicsPerRequest) {
        return bad_request("event '" + std::string(name) + "' has more than " +
                           std::to_string(kMaxTopicsPerRequest) + " topics");
    }
    req.topics.reserve(doc.Size());
    for (const Value& t : doc.GetArray()) {
        if (!t.IsString()) return bad_request(usage);
        req.topics.emplace_back(t.GetString(), t.GetStringLength());
    }
    return req;
}

/// auth / refresh: exactly one argument, the token string.
std::variant<Request, RequestError> token_request(Op op, std::string_view name, const Packet& event) {
    const std::string usage = "event '" + std::string(name) + "' takes one argument: the token string";
    if (event.args.size() != 1) return bad_request(usage);
    Document doc;
    const std::string_view arg = event.args[0];
    doc.Parse(arg.data(), arg.size());
    if (doc.HasParseError() || !doc.IsString()) return bad_request(usage);
    Request req;
    req.op = op;
    req.token.assign(doc.GetString(), doc.GetStringLength());
    return req;
}

/// publish: exactly one argument, {topic, data}.
std::variant<Request, RequestError> publish_request(const Packet& event) {
    if (event.args.size() != 1) return bad_request("event 'publish' takes one argument: {topic, data}");
    return parse_publish_object(event.args[0]);
}

}  // namespace

std::variant<Request, RequestError> event_to_request(const Packet& event) {
    if (event.type != PacketType::event) return bad_request("not an event");
    const std::string_view name = event.event;
    // As for a v1 request, whatever the event: nothing built from it needs to go deeper.
    for (const std::string_view arg : event.args)
        if (json_deeper_than(arg, kMaxJsonDepth))
            return bad_request("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    if (name == "subscribe") return topics_request(Op::subscribe, name, event);
    if (name == "unsubscribe") return topics_request(Op::unsubscribe, name, event);
    if (name == "list") return Request{.op = Op::list};
    if (name == "ping") return Request{.op = Op::ping};
    if (name == "auth" || name == "refresh") return token_request(name == "auth" ? Op::auth : Op::refresh, name, event);
    if (name == "publish") return publish_request(event);
    if (name == kMessageEvent) {
        if (event.args.size() != 1) {
            return bad_request("event 'message' takes one argument: a protocol v1 request object");
        }
        return parse_request(event.args[0]);
    }
    // The name came through RapidJSON's UTF-8 check; cutting it keeps the error message short.
    return bad_request("unknown event '" + std::string(utf8_truncate(name, kMaxEchoedNameBytes)) +
                       "'; expected subscribe, unsubscribe, list, ping, auth, refresh, publish or message");
}

void encode_topics_ack(bool accepted, std::span<const std::string> topics, const std::optional<AckError>& error,
                       std::string& out, const SubscribeAckExtras& extras) {
    out += '{';
    if (accepted) {
        out += "\"topics\":";
        append_string_array(topics, out);
        append_subscribe_extras(extras, out);
    }
    if (error) {
        if (accepted) out += ',';
        out += "\"error\":{";
        append_error_fields(error->code, error->message, error->topics, out);
        out += '}';
    }
    out += '}';
}

void encode_list_ack(std::span<const std::string_view> topics, std::string& out) {
    out += "{\"topics\":";
    append_string_array(topics, out);
    out += '}';
}

void encode_pong_ack(std::int64_t ts_ns, std::string& out) {
    out += "{\"ts\":";
    out += std::to_string(ts_ns);
    out += '}';
}

}  // namespace tickgate::protocol::socketio
