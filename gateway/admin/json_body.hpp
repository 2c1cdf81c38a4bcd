#pragma once
// A request body of the operator API: one JSON object, read in a single pass. Each member keeps
// its kind and its value as compact JSON (numbers exactly as written), strings also unescaped,
// so a route checks types and passes a value such as an announcement's data on as it came. The
// nesting is bounded before anything is built: a body of 64 KiB of "[" costs nothing to refuse.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tickgate::gateway::admin {

/// The deepest nesting a body may have, counting the body's own object as 1.
inline constexpr std::size_t kMaxJsonDepth = 32;

struct JsonMember {
    enum class Kind { null, boolean, number, string, array, object };
    Kind kind = Kind::null;
    std::string json;  // the value as compact JSON
    std::string text;  // a string's characters (unescaped); empty for other kinds
};

struct JsonObject {
    std::vector<std::pair<std::string, JsonMember>> members;  // in body order
    const JsonMember* find(std::string_view key) const noexcept;
};

/// The members of `body`, or why it is refused: not JSON (with the offset), invalid UTF-8, not an
/// object, nested deeper than `max_depth`, or a member given twice.
std::variant<JsonObject, std::string> parse_json_object(std::string_view body, std::size_t max_depth = kMaxJsonDepth);

/// A kind's name for error messages ("a string", "an object").
std::string_view kind_name(JsonMember::Kind kind) noexcept;

}  // namespace tickgate::gateway::admin
