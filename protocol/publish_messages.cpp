#include "protocol/publish_messages.hpp"

#include "protocol/messages.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {
namespace {

void append_topic_and_seq(std::string_view topic, std::uint64_t seq, std::string& out) {
    out += "\"topic\":";
    append_json_string(topic, out);
    out += ",\"seq\":";
    out += std::to_string(seq);
}

}  // namespace

void encode_published_message(const PublishedMessage& m, std::string& out) {
    out.reserve(out.size() + 96 + m.topic.size() + m.from.size() + m.data.size());
    out += "{\"type\":";
    append_json_string(topic_channel(m.topic), out);
    out += ',';
    append_topic_and_seq(m.topic, m.seq, out);
    out += ",\"ts\":";
    out += std::to_string(m.ts_ns);
    out += ",\"from\":";
    append_json_string(m.from, out);
    out += ",\"data\":";
    out += m.data;
    out += '}';
}

void encode_published(std::string_view id_json, std::string_view topic, std::uint64_t seq, std::string& out) {
    out += "{\"type\":\"published\"";
    if (!id_json.empty()) {
        out += ",\"id\":";
        out += id_json;
    }
    out += ',';
    append_topic_and_seq(topic, seq, out);
    out += '}';
}

void encode_published_ack(std::string_view topic, std::uint64_t seq, std::string& out) {
    out += '{';
    append_topic_and_seq(topic, seq, out);
    out += '}';
}

}  // namespace tickgate::protocol
