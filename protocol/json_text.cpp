#include "protocol/json_text.hpp"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstddef>

namespace tickgate::protocol {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_space(s[i])) ++i;
    return i;
}

/// `s[i]` opens a string: the index just past its closing quote.
std::size_t skip_string(std::string_view s, std::size_t i) noexcept {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\')
            ++i;  // the escaped character, whatever it is, cannot close the string
        else if (s[i] == '"')
            return i + 1;
    }
    return s.size();
}

/// `s[i]` starts a value: the index just past it.
std::size_t skip_value(std::string_view s, std::size_t i) noexcept {
    if (i >= s.size()) return i;
    if (s[i] == '"') return skip_string(s, i);
    if (s[i] != '{' && s[i] != '[') {
        // A number or a literal: it runs to the next delimiter.
        while (i < s.size() && !is_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
        return i;
    }
    int depth = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == '"') {
            i = skip_string(s, i);
            continue;
        }
        if (c == '{' || c == '[') ++depth;
        if ((c == '}' || c == ']') && --depth == 0) return i + 1;
        ++i;
    }
    return i;
}

/// A key (a JSON string literal, quotes included) equals `name` once its escapes are resolved.
bool key_equals(std::string_view literal, std::string_view name) {
    const std::string_view inner = literal.substr(1, literal.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return inner == name;
    rapidjson::Document key;
    key.Parse(literal.data(), literal.size());
    return !key.HasParseError() && key.IsString() && std::string_view(key.GetString(), key.GetStringLength()) == name;
}

// Counts nesting and refuses past kMaxJsonDepth; every value is accepted as it is.
struct DepthLimit : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DepthLimit> {
    int depth = 0;
    bool Default() noexcept { return true; }
    bool StartObject() noexcept { return ++depth <= kMaxJsonDepth; }
    bool EndObject(rapidjson::SizeType) noexcept { return --depth, true; }
    bool StartArray() noexcept { return ++depth <= kMaxJsonDepth; }
    bool EndArray(rapidjson::SizeType) noexcept { return --depth, true; }
};

}  // namespace

bool is_valid_json_value(std::string_view text) noexcept {
    // The memory stream reads a NUL as the end of the text: one inside would hide what follows.
    if (text.empty() || text.find('\0') != std::string_view::npos) return false;
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    DepthLimit handler;
    reader.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(stream, handler);
    return !reader.HasParseError();
}

bool json_deeper_than(std::string_view json, int max_depth) noexcept {
    int depth = 0;
    for (std::size_t i = 0; i < json.size();) {
        const char c = json[i];
        if (c == '"') {
            i = skip_string(json, i);
            continue;
        }
        if ((c == '{' || c == '[') && ++depth > max_depth) return true;
        if (c == '}' || c == ']') --depth;
        ++i;
    }
    return false;
}

std::optional<std::string_view> raw_member(std::string_view object, std::string_view name) {
    std::size_t i = skip_space(object, 0);
    if (i >= object.size() || object[i] != '{') return std::nullopt;
    i = skip_space(object, i + 1);
    while (i < object.size() && object[i] == '"') {
        const std::size_t key_end = skip_string(object, i);
        const bool wanted = key_equals(object.substr(i, key_end - i), name);
        i = skip_space(object, key_end);
        if (i >= object.size() || object[i] != ':') return std::nullopt;
        i = skip_space(object, i + 1);
        const std::size_t value_end = skip_value(object, i);
        if (wanted) return object.substr(i, value_end - i);
        i = skip_space(object, value_end);
        if (i >= object.size() || object[i] != ',') return std::nullopt;
        i = skip_space(object, i + 1);
    }
    return std::nullopt;
}

}  // namespace tickgate::protocol
