#include "protocol/update_decoder.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <array>
#include <cstdint>

#include "protocol/decimal.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {
namespace {

struct DecimalField {
    const char* name;
    std::int64_t MarketUpdate::*member;
    bool is_price;
};

constexpr std::array<DecimalField, 10> kFields = {{
    {"bid", &MarketUpdate::bid, true},
    {"bid_size", &MarketUpdate::bid_size, false},
    {"ask", &MarketUpdate::ask, true},
    {"ask_size", &MarketUpdate::ask_size, false},
    {"last", &MarketUpdate::last, true},
    {"last_size", &MarketUpdate::last_size, false},
    {"open_24h", &MarketUpdate::open_24h, true},
    {"high_24h", &MarketUpdate::high_24h, true},
    {"low_24h", &MarketUpdate::low_24h, true},
    {"volume_24h", &MarketUpdate::volume_24h, false},
}};

bool fail(std::string& error, std::string message) {
    error = std::move(message);
    return false;
}

}  // namespace

bool decode_update(std::string_view json, MarketUpdate& out, std::string& error) {
    rapidjson::Document doc;
    // Iterative: recorded files are untrusted, and deep nesting must not exhaust the stack.
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (doc.HasParseError()) {
        return fail(error, std::string("malformed JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                               " at offset " + std::to_string(doc.GetErrorOffset()));
    }
    if (!doc.IsObject()) return fail(error, "update must be a JSON object");

    MarketUpdate u;

    const auto topic_it = doc.FindMember("topic");
    if (topic_it == doc.MemberEnd()) return fail(error, "field 'topic' is required");
    if (!topic_it->value.IsString()) return fail(error, "field 'topic' must be a string");
    const std::string_view topic(topic_it->value.GetString(), topic_it->value.GetStringLength());
    if (classify_entry(topic) != EntryKind::topic) return fail(error, "field 'topic' is not a valid exact topic");
    u.set_topic(topic);

    const auto ts_it = doc.FindMember("ts");
    if (ts_it == doc.MemberEnd()) return fail(error, "field 'ts' is required");
    if (!ts_it->value.IsInt64() || ts_it->value.GetInt64() < 0) {
        return fail(error, "field 'ts' must be a non-negative integer (ns) that fits in int64");
    }
    u.ts_ns = ts_it->value.GetInt64();

    std::array<ParsedDecimal, kFields.size()> parsed{};
    int price_decimals = 0;
    int size_decimals = 0;
    for (std::size_t i = 0; i < kFields.size(); ++i) {
        const auto& f = kFields[i];
        const auto it = doc.FindMember(f.name);
        if (it == doc.MemberEnd()) return fail(error, std::string("field '") + f.name + "' is required");
        if (it->value.IsNumber()) {
            return fail(error, std::string("field '") + f.name + "' must be a decimal string, not a JSON number");
        }
        if (!it->value.IsString()) return fail(error, std::string("field '") + f.name + "' must be a decimal string");
        const auto d = parse_decimal({it->value.GetString(), it->value.GetStringLength()});
        if (!d) return fail(error, std::string("field '") + f.name + "' is not a valid decimal");
        parsed[i] = *d;
        int& group = f.is_price ? price_decimals : size_decimals;
        if (d->decimals > group) group = d->decimals;
    }

    for (std::size_t i = 0; i < kFields.size(); ++i) {
        const auto& f = kFields[i];
        const int to = f.is_price ? price_decimals : size_decimals;
        const auto v = rescale_decimal(parsed[i].mantissa, parsed[i].decimals, to);
        if (!v) {
            return fail(error, std::string("field '") + f.name + "' overflows int64 at " + std::to_string(to) +
                                   " decimals");
        }
        u.*(f.member) = *v;
    }
    u.price_decimals = static_cast<std::uint8_t>(price_decimals);
    u.size_decimals = static_cast<std::uint8_t>(size_decimals);

    out = u;
    return true;
}

}  // namespace tickgate::protocol
