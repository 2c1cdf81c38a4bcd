#include "protocol/auth_messages.hpp"

#include <rapidjson/document.h>

#include "protocol/messages.hpp"

namespace tickgate::protocol {

void encode_authenticated(std::string_view id_json, std::string_view sub, std::int64_t expires_at_ns,
                          std::string& out) {
    out += "{\"type\":\"authenticated\"";
    if (!id_json.empty()) {
        out += ",\"id\":";
        out += id_json;
    }
    out += ",\"sub\":";
    append_json_string(sub, out);
    out += ",\"expires_at\":";
    out += std::to_string(expires_at_ns);
    out += '}';
}

void encode_authenticated_ack(std::string_view sub, std::int64_t expires_at_ns, std::string& out) {
    out += "{\"sub\":";
    append_json_string(sub, out);
    out += ",\"expires_at\":";
    out += std::to_string(expires_at_ns);
    out += '}';
}

void encode_token_expiring(std::int64_t expires_at_ns, std::string& out) {
    out += "{\"type\":\"token_expiring\",\"expires_at\":";
    out += std::to_string(expires_at_ns);
    out += '}';
}

std::optional<std::string> connect_token(std::string_view payload) {
    if (payload.empty()) return std::nullopt;
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(payload.data(), payload.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    const auto it = doc.FindMember("token");
    if (it == doc.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace tickgate::protocol
