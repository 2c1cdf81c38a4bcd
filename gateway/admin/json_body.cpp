#include "gateway/admin/json_body.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/utf8.hpp"

namespace tickgate::gateway::admin {
namespace {

using Kind = JsonMember::Kind;

/// SAX events of the body: the top object's keys, and each member's value written out again
/// (compact) by a Writer. Returning false stops the parse at once.
class ObjectReader {
public:
    explicit ObjectReader(std::size_t max_depth) : max_depth_(max_depth) {}

    bool Null() { return scalar(Kind::null, [&] { return writer_.Null(); }); }
    bool Bool(bool b) { return scalar(Kind::boolean, [&] { return writer_.Bool(b); }); }
    // kParseNumbersAsStringsFlag: every number arrives here, as written. (Writer::RawNumber would
    // write it as a string; RawValue writes it as it is.)
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        return scalar(Kind::number, [&] { return writer_.RawValue(s, n, rapidjson::kNumberType); });
    }
    bool Int(int) { return false; }
    bool Uint(unsigned) { return false; }
    bool Int64(std::int64_t) { return false; }
    bool Uint64(std::uint64_t) { return false; }
    bool Double(double) { return false; }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        if (!unicode(s, n)) return false;
        if (depth_ == 1) text_.assign(s, n);
        return scalar(Kind::string, [&] { return writer_.String(s, n); });
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        if (!unicode(s, n)) return false;
        if (depth_ > 1) return writer_.Key(s, n);
        key_.assign(s, n);
        for (const auto& [k, v] : object_.members)
            if (k == key_) return fail("member '" + key_ + "' is given twice");
        return true;
    }
    bool StartObject() { return open(Kind::object, [&] { return writer_.StartObject(); }); }
    bool EndObject(rapidjson::SizeType) { return close([&] { return writer_.EndObject(); }); }
    bool StartArray() { return open(Kind::array, [&] { return writer_.StartArray(); }); }
    bool EndArray(rapidjson::SizeType) { return close([&] { return writer_.EndArray(); }); }

    JsonObject& object() noexcept { return object_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    // kParseValidateEncodingFlag checks the body's bytes, not what its escapes decode to: RapidJSON
    // 1.1.0 turns a lone surrogate ("\udc00") into three bytes that are not UTF-8, which would
    // reach clients in a text frame (admin_body_fuzz found it).
    bool unicode(const char* s, rapidjson::SizeType n) {
        if (protocol::is_valid_utf8(std::string_view(s, n))) return true;
        return fail("a string escapes an unpaired surrogate (\\uD800-\\uDFFF): not Unicode text");
    }

    bool fail(std::string why) {
        problem_ = std::move(why);
        return false;
    }

    template <typename Write>
    bool scalar(Kind kind, Write&& write) {
        if (depth_ == 0) return fail("the body must be a JSON object");
        if (depth_ == 1) begin_member(kind);
        if (!write()) return false;
        if (depth_ == 1) end_member();
        return true;
    }

    template <typename Write>
    bool open(Kind kind, Write&& write) {
        if (depth_ == 0) {
            if (kind != Kind::object) return fail("the body must be a JSON object");
            depth_ = 1;
            return true;
        }
        if (++depth_ > max_depth_)
            return fail("JSON nested deeper than " + std::to_string(max_depth_) + " levels");
        if (depth_ == 2) begin_member(kind);
        return write();
    }

    template <typename Write>
    bool close(Write&& write) {
        if (depth_-- == 1) return true;  // the body's own object
        if (!write()) return false;
        if (depth_ == 1) end_member();
        return true;
    }

    void begin_member(Kind kind) {
        kind_ = kind;
        buffer_.Clear();
        writer_.Reset(buffer_);
        if (kind != Kind::string) text_.clear();
    }

    void end_member() {
        JsonMember m;
        m.kind = kind_;
        m.json.assign(buffer_.GetString(), buffer_.GetSize());
        if (kind_ == Kind::string) m.text = std::move(text_);
        object_.members.emplace_back(std::move(key_), std::move(m));
    }

    const std::size_t max_depth_;
    std::size_t depth_ = 0;
    JsonObject object_;
    std::string key_, text_;
    Kind kind_ = Kind::null;
    rapidjson::StringBuffer buffer_;
    rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
    std::string problem_;
};

}  // namespace

const JsonMember* JsonObject::find(std::string_view key) const noexcept {
    for (const auto& [k, v] : members)
        if (k == key) return &v;
    return nullptr;
}

std::variant<JsonObject, std::string> parse_json_object(std::string_view body, std::size_t max_depth) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string("the body is empty: send a JSON object");
    ObjectReader handler(max_depth);
    rapidjson::MemoryStream stream(body.data(), body.size());
    rapidjson::Reader reader;
    // Iterative: nesting costs no stack even before the depth check stops it.
    constexpr unsigned kFlags =
        rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
    const auto result = reader.Parse<kFlags>(stream, handler);
    if (!handler.problem().empty()) return handler.problem();
    if (result.IsError()) {
        if (result.Code() == rapidjson::kParseErrorStringInvalidEncoding) return std::string("invalid UTF-8 in the body");
        return std::string("malformed JSON: ") + rapidjson::GetParseError_En(result.Code()) + " at offset " +
               std::to_string(result.Offset());
    }
    return std::move(handler.object());
}

std::string_view kind_name(JsonMember::Kind kind) noexcept {
    switch (kind) {
    case Kind::null: return "null";
    case Kind::boolean: return "a boolean";
    case Kind::number: return "a number";
    case Kind::string: return "a string";
    case Kind::array: return "an array";
    case Kind::object: return "an object";
    }
    return "a value";
}

}  // namespace tickgate::gateway::admin
