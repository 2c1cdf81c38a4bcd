#include "protocol/request.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <optional>

#include "protocol/epoch.hpp"
#include "protocol/json_text.hpp"
#include "protocol/messages.hpp"
#include "protocol/topic.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::protocol {
namespace {

constexpr std::size_t kMaxTopicsPerRequest = 1000;

using Allocator = rapidjson::MemoryPoolAllocator<>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator, rapidjson::CrtAllocator>;
using Value = Document::ValueType;

std::string_view view(const Value& v) noexcept { return {v.GetString(), v.GetStringLength()}; }

RequestError bad_request(std::string message, std::string id_json = {}) {
    return RequestError{ErrorCode::bad_request, std::move(message), std::move(id_json)};
}

/// Parses `text` into `doc`: an error for anything but one valid UTF-8 JSON value.
std::optional<RequestError> parse_json(std::string_view text, Document& doc) {
    // Iterative so a deeply nested request cannot exhaust the stack; the encoding check makes
    // invalid UTF-8 a bad_request rather than something echoed back to the client.
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!doc.HasParseError()) return std::nullopt;
    if (doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding) return bad_request("invalid UTF-8 in request");
    return bad_request(std::string("malformed JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                       " at offset " + std::to_string(doc.GetErrorOffset()));
}

std::optional<RequestError> check_depth(std::string_view text, const std::string& id_json) {
    if (!json_deeper_than(text, kMaxJsonDepth)) return std::nullopt;
    return bad_request("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", id_json);
}

/// "topic" and "data" of a publish, from `object` (whose text is `text`), into `req`.
std::optional<RequestError> read_publish(const Value& object, std::string_view text, Request& req) {
    const auto topic_it = object.FindMember("topic");
    if (topic_it == object.MemberEnd() || !topic_it->value.IsString())
        return bad_request("field 'topic' (a string) is required for publish", req.id_json);
    const std::string_view topic = view(topic_it->value);
    switch (classify_entry(topic)) {
    case EntryKind::pattern:
        return bad_request("field 'topic' must name one topic (chat.lobby), not a pattern", req.id_json);
    case EntryKind::invalid: return bad_request("field 'topic' is not a topic (channel.room)", req.id_json);
    case EntryKind::topic:
    case EntryKind::room: break;
    }
    // The object parsed, so its member is there in the text too.
    const auto data = object.HasMember("data") ? raw_member(text, "data") : std::nullopt;
    if (!data) return bad_request("field 'data' (any JSON value) is required for publish", req.id_json);
    req.topic.assign(topic);
    req.data.assign(*data);
    return std::nullopt;
}

/// "topics" of a subscribe or unsubscribe, from `object`, into `req`.
std::optional<RequestError> read_topics(const Value& object, std::string_view op, Request& req) {
    const auto topics_it = object.FindMember("topics");
    if (topics_it == object.MemberEnd()) {
        return bad_request("field 'topics' is required for " + std::string(op), req.id_json);
    }
    const Value& topics = topics_it->value;
    if (!topics.IsArray()) return bad_request("field 'topics' must be an array of strings", req.id_json);
    if (topics.Empty()) return bad_request("field 'topics' must not be empty", req.id_json);
    if (topics.Size() > kMaxTopicsPerRequest) {
        return bad_request("field 'topics' has more than " + std::to_string(kMaxTopicsPerRequest) + " entries",
                           req.id_json);
    }
    req.topics.reserve(topics.Size());
    for (const Value& t : topics.GetArray()) {
        if (!t.IsString()) return bad_request("field 'topics' must be an array of strings", req.id_json);
        req.topics.emplace_back(view(t));
    }
    return std::nullopt;
}

/// "since" of a subscribe (absent: nothing to resume), from `object`, into `req`; its topics are read.
std::optional<RequestError> read_since(const Value& object, Request& req) {
    const auto since_it = object.FindMember("since");
    if (since_it == object.MemberEnd()) return std::nullopt;
    const Value& since = since_it->value;
    if (!since.IsObject())
        return bad_request("field 'since' must be an object: {\"<topic>\":{\"epoch\":\"..\",\"seq\":N}}", req.id_json);
    if (since.MemberCount() > kMaxSinceTopics)
        return bad_request("field 'since' has more than " + std::to_string(kMaxSinceTopics) + " topics", req.id_json);
    req.since.reserve(since.MemberCount());
    for (const auto& m : since.GetObject()) {
        const std::string_view topic = view(m.name);
        // The key is echoed in the message: RapidJSON checked its UTF-8; its length is bounded here.
        const std::string shown(utf8_truncate(topic, kMaxTopicLength + 1));
        const auto kind = classify_entry(topic);
        if (kind != EntryKind::topic && kind != EntryKind::room)
            return bad_request("field 'since': '" + shown + "' is not an exact topic", req.id_json);
        bool covered = false;
        for (const auto& entry : req.topics)
            if (const auto t = parse_throttled_entry(entry);
                t.kind != EntryKind::invalid && t.error.empty() && entry_matches(t.base, topic)) {
                covered = true;
                break;
            }
        if (!covered)
            return bad_request("field 'since': '" + shown + "' is not covered by this request's topics", req.id_json);
        for (const auto& earlier : req.since)
            if (earlier.topic == topic)
                return bad_request("field 'since' names '" + shown + "' twice", req.id_json);
        const Value& point = m.value;
        if (!point.IsObject())
            return bad_request("field 'since': '" + shown + "' must map to {\"epoch\":\"..\",\"seq\":N}",
                               req.id_json);
        const auto epoch_it = point.FindMember("epoch");
        if (epoch_it == point.MemberEnd() || !epoch_it->value.IsString())
            return bad_request("field 'since': '" + shown + "' needs \"epoch\", a string (from the ack's epochs)",
                               req.id_json);
        const auto epoch = parse_epoch(view(epoch_it->value));
        if (!epoch)
            return bad_request("field 'since': the epoch of '" + shown + "' is not an epoch (16 hex digits)",
                               req.id_json);
        const auto seq_it = point.FindMember("seq");
        if (seq_it == point.MemberEnd() || !seq_it->value.IsUint64())
            return bad_request("field 'since': '" + shown + "' needs \"seq\", an integer >= 0", req.id_json);
        req.since.push_back(SincePoint{std::string(topic), *epoch, seq_it->value.GetUint64()});
    }
    return std::nullopt;
}

}  // namespace

std::variant<Request, RequestError> parse_subscribe_object(std::string_view object_json) {
    alignas(16) char pool[2048];
    Allocator allocator(pool, sizeof pool);
    Document doc(&allocator);
    if (auto error = parse_json(object_json, doc)) return *error;
    if (!doc.IsObject()) return bad_request("subscribe takes topics, or one object: {topics, since}");
    Request req;
    req.op = Op::subscribe;
    if (auto error = check_depth(object_json, req.id_json)) return *error;
    if (auto error = read_topics(doc, "subscribe", req)) return *error;
    if (auto error = read_since(doc, req)) return *error;
    return req;
}

std::variant<Request, RequestError> parse_publish_object(std::string_view object_json) {
    alignas(16) char pool[2048];
    Allocator allocator(pool, sizeof pool);
    Document doc(&allocator);
    if (auto error = parse_json(object_json, doc)) return *error;
    if (!doc.IsObject()) return bad_request("publish takes one object: {topic, data}");
    Request req;
    req.op = Op::publish;
    if (auto error = check_depth(object_json, req.id_json)) return *error;
    if (auto error = read_publish(doc, object_json, req)) return *error;
    return req;
}

std::variant<Request, RequestError> parse_request(std::string_view text) {
    // Typical requests fit in this buffer, so parsing one allocates nothing for the DOM.
    alignas(16) char pool[2048];
    Allocator allocator(pool, sizeof pool);
    Document doc(&allocator);
    if (auto error = parse_json(text, doc)) return *error;
    if (!doc.IsObject()) return bad_request("request must be a JSON object");

    Request req;
    // The id is read first so every later error can echo it.
    if (const auto it = doc.FindMember("id"); it != doc.MemberEnd()) {
        const Value& id = it->value;
        if (id.IsInt64()) {
            req.id_json = std::to_string(id.GetInt64());
        } else if (id.IsUint64()) {
            req.id_json = std::to_string(id.GetUint64());
        } else if (id.IsString()) {
            append_json_string(view(id), req.id_json);
        } else {
            return bad_request("field 'id' must be an integer or a string");
        }
    }
    if (auto error = check_depth(text, req.id_json)) return *error;

    const auto op_it = doc.FindMember("op");
    if (op_it == doc.MemberEnd()) return bad_request("field 'op' is required", req.id_json);
    if (!op_it->value.IsString()) return bad_request("field 'op' must be a string", req.id_json);
    const std::string_view op = view(op_it->value);
    if (op == "subscribe") {
        req.op = Op::subscribe;
    } else if (op == "unsubscribe") {
        req.op = Op::unsubscribe;
    } else if (op == "list") {
        req.op = Op::list;
        return req;
    } else if (op == "ping") {
        req.op = Op::ping;
        return req;
    } else if (op == "auth" || op == "refresh") {
        req.op = op == "auth" ? Op::auth : Op::refresh;
        const auto token_it = doc.FindMember("token");
        if (token_it == doc.MemberEnd() || !token_it->value.IsString())
            return bad_request("field 'token' (a string) is required for " + std::string(op), req.id_json);
        req.token.assign(view(token_it->value));
        return req;
    } else if (op == "publish") {
        req.op = Op::publish;
        if (auto error = read_publish(doc, text, req)) return *error;
        return req;
    } else {
        return bad_request("unknown op; expected subscribe, unsubscribe, list or ping", req.id_json);
    }

    if (auto error = read_topics(doc, op, req)) return *error;
    if (req.op == Op::subscribe)
        if (auto error = read_since(doc, req)) return *error;
    return req;
}

}  // namespace tickgate::protocol
