#include "protocol/update_decoder.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "protocol/decimal.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {
namespace {

using rapidjson::Value;

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

std::string field(const char* name) { return std::string("field '") + name + "'"; }

bool parse_object(std::string_view json, rapidjson::Document& doc, std::string& error) {
    // Iterative: recorded files are untrusted, and deep nesting must not exhaust the stack.
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (doc.HasParseError()) {
        return fail(error, std::string("malformed JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                               " at offset " + std::to_string(doc.GetErrorOffset()));
    }
    if (!doc.IsObject()) return fail(error, "update must be a JSON object");
    return true;
}

bool read_topic(const Value& doc, std::string_view& topic, std::string& error) {
    const auto it = doc.FindMember("topic");
    if (it == doc.MemberEnd()) return fail(error, "field 'topic' is required");
    if (!it->value.IsString()) return fail(error, "field 'topic' must be a string");
    topic = {it->value.GetString(), it->value.GetStringLength()};
    if (classify_entry(topic) != EntryKind::topic) return fail(error, "field 'topic' is not a valid exact topic");
    return true;
}

bool read_ts(const Value& doc, std::int64_t& ts, std::string& error) {
    const auto it = doc.FindMember("ts");
    if (it == doc.MemberEnd()) return fail(error, "field 'ts' is required");
    if (!it->value.IsInt64() || it->value.GetInt64() < 0) {
        return fail(error, "field 'ts' must be a non-negative integer (ns) that fits in int64");
    }
    ts = it->value.GetInt64();
    return true;
}

bool read_uint64(const Value& doc, const char* name, std::uint64_t& out, std::string& error) {
    const auto it = doc.FindMember(name);
    if (it == doc.MemberEnd()) return fail(error, field(name) + " is required");
    if (!it->value.IsUint64()) return fail(error, field(name) + " must be a non-negative integer");
    out = it->value.GetUint64();
    return true;
}

bool read_decimal(const Value& v, const std::string& what, ParsedDecimal& out, std::string& error) {
    if (v.IsNumber()) return fail(error, what + " must be a decimal string, not a JSON number");
    if (!v.IsString()) return fail(error, what + " must be a decimal string");
    const auto d = parse_decimal({v.GetString(), v.GetStringLength()});
    if (!d) return fail(error, what + " is not a valid decimal");
    out = *d;
    return true;
}

bool read_decimal_field(const Value& doc, const char* name, ParsedDecimal& out, std::string& error) {
    const auto it = doc.FindMember(name);
    if (it == doc.MemberEnd()) return fail(error, field(name) + " is required");
    return read_decimal(it->value, field(name), out, error);
}

bool decode_ticker(const Value& doc, MarketUpdate& u, std::string& error) {
    std::array<ParsedDecimal, kFields.size()> parsed{};
    int price_decimals = 0;
    int size_decimals = 0;
    for (std::size_t i = 0; i < kFields.size(); ++i) {
        const auto& f = kFields[i];
        if (!read_decimal_field(doc, f.name, parsed[i], error)) return false;
        int& group = f.is_price ? price_decimals : size_decimals;
        if (parsed[i].decimals > group) group = parsed[i].decimals;
    }
    for (std::size_t i = 0; i < kFields.size(); ++i) {
        const auto& f = kFields[i];
        const int to = f.is_price ? price_decimals : size_decimals;
        const auto v = rescale_decimal(parsed[i].mantissa, parsed[i].decimals, to);
        if (!v) return fail(error, field(f.name) + " overflows int64 at " + std::to_string(to) + " decimals");
        u.*(f.member) = *v;
    }
    u.kind = UpdateKind::ticker;
    u.price_decimals = static_cast<std::uint8_t>(price_decimals);
    u.size_decimals = static_cast<std::uint8_t>(size_decimals);
    return true;
}

bool decode_trade(const Value& doc, MarketUpdate& u, std::string& error) {
    ParsedDecimal price, size;
    if (!read_decimal_field(doc, "price", price, error) || !read_decimal_field(doc, "size", size, error)) return false;
    if (price.mantissa <= 0) return fail(error, "field 'price' must be above 0");
    if (size.mantissa <= 0) return fail(error, "field 'size' must be above 0");
    std::uint64_t trade_id = 0;
    if (!read_uint64(doc, "trade_id", trade_id, error)) return false;
    const auto side = doc.FindMember("side");
    if (side == doc.MemberEnd()) return fail(error, "field 'side' is required");
    if (!side->value.IsString()) return fail(error, "field 'side' must be \"buy\" or \"sell\"");
    const std::string_view s(side->value.GetString(), side->value.GetStringLength());
    if (s != "buy" && s != "sell") return fail(error, "field 'side' must be \"buy\" or \"sell\"");
    u.kind = UpdateKind::trade;
    u.trade.price = price.mantissa;
    u.trade.size = size.mantissa;
    u.trade.trade_id = trade_id;
    u.trade.side = s == "buy" ? TradeSide::buy : TradeSide::sell;
    u.price_decimals = static_cast<std::uint8_t>(price.decimals);
    u.size_decimals = static_cast<std::uint8_t>(size.decimals);
    return true;
}

struct ParsedLevel {
    ParsedDecimal price, size;
};

bool read_levels(const Value& doc, const char* name, bool snapshot, std::size_t max_depth,
                 std::vector<ParsedLevel>& out, std::string& error) {
    const auto it = doc.FindMember(name);
    if (it == doc.MemberEnd()) return fail(error, field(name) + " is required");
    if (!it->value.IsArray()) return fail(error, field(name) + " must be an array of [\"price\",\"size\"] levels");
    const auto& levels = it->value;
    if (snapshot && levels.Size() > max_depth) {
        return fail(error, field(name) + " holds " + std::to_string(levels.Size()) + " levels, more than the view's " +
                               std::to_string(max_depth));
    }
    for (rapidjson::SizeType i = 0; i < levels.Size(); ++i) {
        const auto& l = levels[i];
        const std::string what = field(name) + " level " + std::to_string(i + 1);
        if (!l.IsArray() || l.Size() != 2) return fail(error, what + " must be a [\"price\",\"size\"] pair");
        ParsedLevel p;
        if (!read_decimal(l[0], what + " price", p.price, error) || !read_decimal(l[1], what + " size", p.size, error))
            return false;
        if (p.price.mantissa <= 0) return fail(error, what + " price must be above 0");
        if (p.size.mantissa < 0) return fail(error, what + " size must not be negative");
        if (snapshot && p.size.mantissa == 0) return fail(error, what + " size must be above 0 in a snapshot");
        out.push_back(p);
    }
    return true;
}

bool rescale_levels(const std::vector<ParsedLevel>& in, const char* name, int price_decimals, int size_decimals,
                    std::vector<PriceLevel>& out, std::string& error) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto price = rescale_decimal(in[i].price.mantissa, in[i].price.decimals, price_decimals);
        const auto size = rescale_decimal(in[i].size.mantissa, in[i].size.decimals, size_decimals);
        if (!price || !size) {
            return fail(error, field(name) + " level " + std::to_string(i + 1) + " overflows int64 at the line's " +
                                   std::to_string(price_decimals) + "/" + std::to_string(size_decimals) + " decimals");
        }
        out.push_back({*price, *size});
    }
    return true;
}

bool decode_book(const Value& doc, std::string_view channel, BookLine& b, std::string& error) {
    if (!read_uint64(doc, "seq", b.seq, error)) return false;
    const auto snapshot = doc.FindMember("snapshot");
    if (snapshot == doc.MemberEnd()) return fail(error, "field 'snapshot' is required");
    if (!snapshot->value.IsBool()) return fail(error, "field 'snapshot' must be true or false");
    b.snapshot = snapshot->value.GetBool();
    b.prev_seq = 0;
    if (!b.snapshot) {
        if (!read_uint64(doc, "prev_seq", b.prev_seq, error)) return false;
        if (b.prev_seq >= b.seq) return fail(error, "field 'prev_seq' must be below 'seq'");
    }
    const auto checksum = doc.FindMember("checksum");
    if (checksum == doc.MemberEnd()) return fail(error, "field 'checksum' is required");
    if (!checksum->value.IsUint()) return fail(error, "field 'checksum' must be an unsigned 32-bit integer");
    b.checksum = checksum->value.GetUint();

    const std::size_t depth = channel == "book50" ? kBook50ViewDepth : kBookViewDepth;
    std::vector<ParsedLevel> bids, asks;
    if (!read_levels(doc, "bids", b.snapshot, depth, bids, error) ||
        !read_levels(doc, "asks", b.snapshot, depth, asks, error))
        return false;
    int price_decimals = 0, size_decimals = 0;
    for (const auto* side : {&bids, &asks}) {
        for (const ParsedLevel& l : *side) {
            price_decimals = std::max(price_decimals, l.price.decimals);
            size_decimals = std::max(size_decimals, l.size.decimals);
        }
    }
    if (!rescale_levels(bids, "bids", price_decimals, size_decimals, b.bids, error) ||
        !rescale_levels(asks, "asks", price_decimals, size_decimals, b.asks, error))
        return false;
    b.price_decimals = static_cast<std::uint8_t>(price_decimals);
    b.size_decimals = static_cast<std::uint8_t>(size_decimals);
    return true;
}

}  // namespace

bool decode_update(std::string_view json, MarketUpdate& out, std::string& error) {
    rapidjson::Document doc;
    if (!parse_object(json, doc, error)) return false;
    MarketUpdate u;
    std::string_view topic;
    if (!read_topic(doc, topic, error)) return false;
    u.set_topic(topic);
    if (!read_ts(doc, u.ts_ns, error) || !decode_ticker(doc, u, error)) return false;
    out = u;
    return true;
}

bool decode_recorded_line(std::string_view json, RecordedLine& out, std::string& error) {
    rapidjson::Document doc;
    if (!parse_object(json, doc, error)) return false;
    std::string_view topic;
    std::int64_t ts = 0;
    if (!read_topic(doc, topic, error) || !read_ts(doc, ts, error)) return false;
    const std::string_view channel = topic_channel(topic);
    if (channel == "book" || channel == "book50") {
        out.kind = UpdateKind::book;
        out.book.topic = topic;
        out.book.ts_ns = ts;
        return decode_book(doc, channel, out.book, error);
    }
    out.update = MarketUpdate{};
    out.update.set_topic(topic);
    out.update.ts_ns = ts;
    const bool ok = channel == "trade" ? decode_trade(doc, out.update, error) : decode_ticker(doc, out.update, error);
    out.kind = out.update.kind;
    return ok;
}

}  // namespace tickgate::protocol
