// The operator API's request bodies: gateway/admin/json_body.cpp's parse_json_object on arbitrary
// bytes (the input is the body), and what its header promises: one object, members in order and
// never repeated, each kind matching its compact JSON (and a string's text its unescaped
// characters), the nesting bound held exactly, refusals with a reason.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/admin/json_body.hpp"
#include "protocol/utf8.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace admin = tickgate::gateway::admin;
namespace tp = tickgate::protocol;
using Kind = admin::JsonMember::Kind;

namespace {

/// The nesting of compact JSON as a Writer writes it (strings escaped): 0 for a scalar.
std::size_t depth_of(std::string_view json) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            FUZZ_CHECK(depth > 0);
            --depth;
        }
    }
    FUZZ_CHECK(depth == 0 && !in_string);
    return deepest;
}

void check_member(const admin::JsonMember& m) {
    FUZZ_CHECK(!m.json.empty());
    const std::string_view name = admin::kind_name(m.kind);
    FUZZ_CHECK(!name.empty() && name != "a value");
    // The compact JSON is one value of the member's kind, and says what the kind's name says.
    // Numbers stay text here too (1e400 is a number to the body parser, not a double).
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseNumbersAsStringsFlag>(m.json.data(), m.json.size());
    FUZZ_CHECK(!doc.HasParseError());
    switch (m.kind) {
    case Kind::null: FUZZ_CHECK(doc.IsNull() && m.json == "null" && name == "null"); break;
    case Kind::boolean: FUZZ_CHECK(doc.IsBool() && (m.json == "true" || m.json == "false") && name == "a boolean"); break;
    case Kind::number:
        // As written in the body: the raw number text.
        FUZZ_CHECK(doc.IsString() && m.json.front() != '"' && name == "a number");
        FUZZ_CHECK(m.json == std::string_view(doc.GetString(), doc.GetStringLength()));
        FUZZ_CHECK(m.json.find_first_not_of("0123456789-+.eE") == std::string::npos);
        break;
    case Kind::string:
        FUZZ_CHECK(doc.IsString() && m.json.front() == '"' && name == "a string");
        FUZZ_CHECK(m.text == std::string_view(doc.GetString(), doc.GetStringLength()));
        break;
    case Kind::array: FUZZ_CHECK(doc.IsArray() && m.json.front() == '[' && name == "an array"); break;
    case Kind::object: FUZZ_CHECK(doc.IsObject() && m.json.front() == '{' && name == "an object"); break;
    }
    if (m.kind != Kind::string) FUZZ_CHECK(m.text.empty());
}

/// The object written back from its members, as compact JSON.
std::string write_back(const admin::JsonObject& object) {
    rapidjson::StringBuffer key;
    std::string out = "{";
    for (const auto& [k, m] : object.members) {
        if (out.size() > 1) out += ',';
        key.Clear();
        rapidjson::Writer<rapidjson::StringBuffer> writer(key);
        writer.String(k.data(), static_cast<rapidjson::SizeType>(k.size()));
        out.append(key.GetString(), key.GetSize());
        out += ':';
        out += m.json;
    }
    out += '}';
    return out;
}

bool same(const admin::JsonObject& a, const admin::JsonObject& b) {
    if (a.members.size() != b.members.size()) return false;
    for (std::size_t i = 0; i < a.members.size(); ++i) {
        const auto& [ka, ma] = a.members[i];
        const auto& [kb, mb] = b.members[i];
        if (ka != kb || ma.kind != mb.kind || ma.json != mb.json || ma.text != mb.text) return false;
    }
    return true;
}

bool is_depth_error(const std::string& e) { return e.starts_with("JSON nested deeper than "); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto parsed = admin::parse_json_object(body);
    if (const auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_CHECK(!error->empty());
        if (is_depth_error(*error)) {
            FUZZ_CHECK(*error == "JSON nested deeper than " + std::to_string(admin::kMaxJsonDepth) + " levels");
            // Only the bound refused it: a bound above every bracket it has does not.
            const auto brackets = std::count_if(body.begin(), body.end(), [](char c) { return c == '[' || c == '{'; });
            if (brackets < 4096) {
                const auto again = admin::parse_json_object(body, 4096);
                if (const auto* e = std::get_if<std::string>(&again)) FUZZ_CHECK(!is_depth_error(*e));
            }
        }
        return 0;
    }
    const auto& object = std::get<admin::JsonObject>(parsed);
    std::set<std::string_view> keys;
    std::size_t depth = 1;  // the body's own object
    for (const auto& [k, m] : object.members) {
        FUZZ_CHECK(keys.insert(k).second);  // never given twice
        FUZZ_CHECK(object.find(k) == &m);
        check_member(m);
        const std::size_t d = depth_of(m.json);
        FUZZ_CHECK((d > 0) == (m.kind == Kind::array || m.kind == Kind::object));
        depth = std::max(depth, 1 + d);
    }
    FUZZ_CHECK(depth <= admin::kMaxJsonDepth);
    // The bound is exact: the body's own depth passes (with the same members), one less does not.
    const auto at = admin::parse_json_object(body, depth);
    FUZZ_CHECK(std::holds_alternative<admin::JsonObject>(at) && same(std::get<admin::JsonObject>(at), object));
    if (depth >= 2) {
        const auto below = admin::parse_json_object(body, depth - 1);
        FUZZ_CHECK(std::holds_alternative<std::string>(below) && is_depth_error(std::get<std::string>(below)));
    }
    // Found by this target (input corpus/admin_body_fuzz/regression-lone-surrogate): RapidJSON
    // 1.1.0 unescapes a lone low surrogate ("\udc00") to its 3 bytes, so a body that passed
    // kParseValidateEncodingFlag yielded text and json that are not UTF-8 (an announcement's data
    // reached clients so). Such a body is refused now.
    for (const auto& [k, m] : object.members)
        FUZZ_CHECK(tp::is_valid_utf8(k) && tp::is_valid_utf8(m.json) && tp::is_valid_utf8(m.text));
    // Written back from its members, the body parses to the same members.
    const auto back = admin::parse_json_object(write_back(object));
    FUZZ_CHECK(std::holds_alternative<admin::JsonObject>(back) && same(std::get<admin::JsonObject>(back), object));
    return 0;
}
