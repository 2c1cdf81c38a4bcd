#pragma once
// Reading JSON text that a parser has already accepted, without building anything: how deeply it
// nests, and where a member's value lies in it. A published message's `data` is forwarded as the
// client's own bytes (never re-serialized: numbers keep their digits, keys their order), so the
// gateway needs the value's text, which a DOM does not keep.

#include <optional>
#include <string_view>

namespace tickgate::protocol {

/// Nesting a client message may have: arrays and objects, the outermost one counting as level 1.
/// Deeper JSON is refused, so nothing built from a request (a DOM walk, a client's JSON.parse of a
/// published message) has to go deeper.
inline constexpr int kMaxJsonDepth = 32;

/// Whether `text` is exactly one JSON value (surrounding whitespace allowed) in valid UTF-8, with
/// arrays and objects nested at most kMaxJsonDepth deep. No allocation for the DOM: RapidJSON's
/// SAX reader, iterative, so depth cannot exhaust the stack either. (What the publisher checks of
/// a message a gateway forwards.)
bool is_valid_json_value(std::string_view text) noexcept;

/// True when `json`, one valid JSON value, nests arrays and objects more than `max_depth` levels.
bool json_deeper_than(std::string_view json, int max_depth) noexcept;

/// The text of the value of member `name` in `object`, a valid JSON object: exactly the bytes
/// sent, without the whitespace around them. The first member of that name (as RapidJSON's
/// FindMember), keys compared after their escapes are resolved. nullopt when there is none.
std::optional<std::string_view> raw_member(std::string_view object, std::string_view name);

}  // namespace tickgate::protocol
