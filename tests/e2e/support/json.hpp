#pragma once
// Parsing server messages in the end-to-end tests (RapidJSON).

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace e2e {

/// Parses `text`; a document whose HasParseError() is true when it is not JSON.
inline rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    return doc;
}

inline std::string json_string(const rapidjson::Value& obj, const char* key) {
    if (!obj.IsObject()) return {};
    const auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                         : std::string();
}

inline std::optional<long long> json_int(const rapidjson::Value& obj, const char* key) {
    if (!obj.IsObject()) return std::nullopt;
    const auto it = obj.FindMember(key);
    if (it == obj.MemberEnd()) return std::nullopt;
    if (it->value.IsInt64()) return it->value.GetInt64();
    if (it->value.IsUint64()) return static_cast<long long>(it->value.GetUint64());
    return std::nullopt;
}

inline std::optional<bool> json_bool(const rapidjson::Value& obj, const char* key) {
    if (!obj.IsObject()) return std::nullopt;
    const auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsBool()) return std::nullopt;
    return it->value.GetBool();
}

/// The type field of a server message ("welcome", "ticker", ...); empty when not JSON.
inline std::string message_type(const std::string& text) { return json_string(parse_json(text), "type"); }

}  // namespace e2e
