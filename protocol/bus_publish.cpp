#include "protocol/bus_publish.hpp"

#include <rapidjson/document.h>

#include "protocol/bus_update.hpp"
#include "protocol/json_text.hpp"
#include "protocol/messages.hpp"
#include "protocol/topic.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::protocol {

const char* publish_refusal_name(PublishRefusal r) noexcept {
    switch (r) {
    case PublishRefusal::none: return "none";
    case PublishRefusal::malformed: return "malformed";
    case PublishRefusal::bad_topic: return "bad_topic";
    case PublishRefusal::market_data_channel: return "market_data_channel";
    case PublishRefusal::bad_from: return "bad_from";
    case PublishRefusal::data_too_large: return "data_too_large";
    case PublishRefusal::bad_json: return "bad_json";
    case PublishRefusal::no_reply_subject: return "no_reply_subject";
    case PublishRefusal::too_many_rooms: return "too_many_rooms";
    }
    return "unknown";
}

const char* publish_refusal_text(PublishRefusal r) noexcept {
    switch (r) {
    case PublishRefusal::none: return "accepted";
    case PublishRefusal::malformed: return "not a tickgate publish request";
    case PublishRefusal::bad_topic: return "topic must be <channel>.<room>, room [a-z0-9_-]{1,20}";
    case PublishRefusal::market_data_channel: return "market-data channels cannot be published to";
    case PublishRefusal::bad_from: return "from must be 1 to 1024 bytes of UTF-8 without control characters";
    case PublishRefusal::data_too_large: return "data is over 4096 bytes";
    case PublishRefusal::bad_json: return "data must be one valid JSON value, nested at most 32 deep";
    case PublishRefusal::no_reply_subject: return "a publish request needs a reply subject";
    case PublishRefusal::too_many_rooms: return "the publisher holds as many rooms as it may";
    }
    return "unknown";
}

bool is_market_data_channel(std::string_view channel) noexcept {
    return is_market_channel(channel) || channel == "bookkf";  // the bus's keyframes of books
}

PublishRefusal check_published_topic(std::string_view topic) noexcept {
    if (topic.size() > kMaxTopicLength) return PublishRefusal::bad_topic;
    const std::size_t dot = topic.find('.');
    if (dot == std::string_view::npos) return PublishRefusal::bad_topic;
    const std::string_view channel = topic.substr(0, dot);
    const std::string_view room = topic.substr(dot + 1);
    // The market-data answer first: it says more than "bad topic" about ticker.BTC-USD.
    if (is_market_data_channel(channel)) return PublishRefusal::market_data_channel;
    return is_valid_channel(channel) && is_valid_room(room) ? PublishRefusal::none : PublishRefusal::bad_topic;
}

std::string_view published_topic_from_subject(std::string_view subject) noexcept {
    const std::size_t last_dot = subject.rfind('.');
    if (last_dot == std::string_view::npos || last_dot == 0) return {};
    const std::size_t dot = subject.rfind('.', last_dot - 1);
    const std::string_view topic = dot == std::string_view::npos ? subject : subject.substr(dot + 1);
    return check_published_topic(topic) == PublishRefusal::none ? topic : std::string_view{};
}

bool is_valid_published_from(std::string_view from) noexcept {
    if (from.empty() || from.size() > kMaxPublishedFrom || !is_valid_utf8(from)) return false;
    for (char c : from)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    return true;
}

void append_publish_request(std::string_view topic, std::string_view from, std::string_view data, std::string& out) {
    out += static_cast<char>(kBusMagic);
    out += static_cast<char>(kPublishRequestVersion);
    out += static_cast<char>(topic.size() & 0xff);
    out += static_cast<char>(from.size() & 0xff);
    out += static_cast<char>((from.size() >> 8) & 0xff);
    out += topic;
    out += from;
    out += data;
}

PublishRefusal decode_publish_request(std::string_view request, PublishRequest& out) noexcept {
    if (request.size() < kPublishRequestHeaderSize || static_cast<std::uint8_t>(request[0]) != kBusMagic ||
        static_cast<std::uint8_t>(request[1]) != kPublishRequestVersion)
        return PublishRefusal::malformed;
    const std::size_t topic_size = static_cast<std::uint8_t>(request[2]);
    const std::size_t from_size =
        static_cast<std::uint8_t>(request[3]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(request[4])) << 8);
    if (request.size() - kPublishRequestHeaderSize < topic_size + from_size) return PublishRefusal::malformed;
    PublishRequest r;
    r.topic = request.substr(kPublishRequestHeaderSize, topic_size);
    r.from = request.substr(kPublishRequestHeaderSize + topic_size, from_size);
    r.data = request.substr(kPublishRequestHeaderSize + topic_size + from_size);
    if (auto e = check_published_topic(r.topic); e != PublishRefusal::none) return e;
    if (!is_valid_published_from(r.from)) return PublishRefusal::bad_from;
    if (r.data.size() > kMaxPublishedData) return PublishRefusal::data_too_large;
    if (!is_valid_json_value(r.data)) return PublishRefusal::bad_json;
    out = r;
    return PublishRefusal::none;
}

std::string publish_reply_ok(std::uint64_t seq) { return "{\"seq\":" + std::to_string(seq) + "}"; }

std::string publish_reply_error(std::string_view name, std::string_view reason) {
    std::string out = "{\"error\":";
    append_json_string(name, out);
    out += ",\"reason\":";
    append_json_string(reason, out);
    out += '}';
    return out;
}

std::string publish_reply_error(PublishRefusal r) { return publish_reply_error(publish_refusal_name(r), publish_refusal_text(r)); }

bool decode_publish_reply(std::string_view reply, std::uint64_t& seq, std::string& error) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(reply.data(), reply.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        error = "the publisher's reply is not a JSON object";
        return false;
    }
    if (const auto it = doc.FindMember("seq"); it != doc.MemberEnd() && it->value.IsUint64() && it->value.GetUint64() >= 1) {
        seq = it->value.GetUint64();
        return true;
    }
    const auto name = doc.FindMember("error");
    if (name == doc.MemberEnd() || !name->value.IsString() || name->value.GetStringLength() == 0) {
        error = "the publisher's reply has neither a seq nor an error";
        return false;
    }
    error.assign(name->value.GetString(), name->value.GetStringLength());
    if (const auto reason = doc.FindMember("reason"); reason != doc.MemberEnd() && reason->value.IsString()) {
        error += ": ";
        error.append(reason->value.GetString(), reason->value.GetStringLength());
    }
    return false;
}

}  // namespace tickgate::protocol
