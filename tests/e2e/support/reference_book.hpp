#pragma once
// A client's order book, written from protocol/README.md alone, as a client author would: it
// applies a book topic's snapshot and deltas as received (JSON text in), and checks on every
// message the prev_seq chain and the checksum, taken over the exact strings received. It shares
// no code with the gateway's book (protocol/model/order_book), so a bug there cannot hide here.

#include <rapidjson/document.h>
#include <zlib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/decimal.hpp"

namespace e2e {

class ReferenceBook {
public:
    /// Applies one book message (snapshot or delta) of this topic. False, with error() saying why,
    /// when the message breaks the chain, fails its checksum or is malformed.
    bool apply(const std::string& json) {
        rapidjson::Document doc;
        doc.Parse(json.c_str(), json.size());
        if (doc.HasParseError() || !doc.IsObject()) return fail("not a JSON object: " + json);
        if (!doc.HasMember("seq") || !doc["seq"].IsUint64() || !doc.HasMember("checksum") ||
            !doc["checksum"].IsUint() || !doc.HasMember("snapshot") || !doc["snapshot"].IsBool() ||
            !doc.HasMember("bids") || !doc["bids"].IsArray() || !doc.HasMember("asks") || !doc["asks"].IsArray())
            return fail("missing or mistyped field: " + json);
        const std::uint64_t seq = doc["seq"].GetUint64();
        if (doc["snapshot"].GetBool()) {
            if (doc.HasMember("prev_seq")) return fail("a snapshot carries prev_seq: " + json);
            bids_.clear();
            asks_.clear();
            has_snapshot_ = true;
        } else {
            if (!has_snapshot_) return fail("a delta before any snapshot: " + json);
            if (!doc.HasMember("prev_seq") || !doc["prev_seq"].IsUint64()) return fail("delta without prev_seq: " + json);
            const std::uint64_t prev = doc["prev_seq"].GetUint64();
            if (prev != seq_) return fail("broken chain: prev_seq " + std::to_string(prev) + " after seq " + std::to_string(seq_));
            if (seq <= prev) return fail("seq " + std::to_string(seq) + " not above prev_seq " + std::to_string(prev));
        }
        if (!apply_side(doc["bids"], bids_, true) || !apply_side(doc["asks"], asks_, false)) return false;
        seq_ = seq;
        ++messages_;
        const std::uint32_t expected = doc["checksum"].GetUint();
        if (checksum() != expected)
            return fail("checksum " + std::to_string(checksum()) + " != " + std::to_string(expected) + " after seq " +
                        std::to_string(seq) + " (" + checksum_string() + ")");
        return true;
    }

    /// "asks|bids", first 10 per side, price:size joined with ",": README's definition.
    std::string checksum_string() const {
        std::string s;
        append_side(asks_, s);
        s += '|';
        append_side(bids_, s);
        return s;
    }
    std::uint32_t checksum() const {
        const std::string s = checksum_string();
        return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
    }

    std::uint64_t seq() const { return seq_; }
    std::size_t messages() const { return messages_; }
    std::size_t bid_depth() const { return bids_.size(); }
    std::size_t ask_depth() const { return asks_.size(); }
    /// Best bid and ask as sent ("price", "size"); nullopt for an empty side.
    std::optional<std::pair<std::string, std::string>> best_bid() const { return best(bids_); }
    std::optional<std::pair<std::string, std::string>> best_ask() const { return best(asks_); }
    const std::string& error() const { return error_; }

private:
    struct Level {
        std::string price, size;
    };
    // Keyed by the price's value (so "65000.5" and "65000.50" would be one level); bids iterate from
    // the end (best first), asks from the start.
    using Side = std::map<long double, Level>;

    bool fail(std::string why) {
        error_ = std::move(why);
        return false;
    }

    bool apply_side(const rapidjson::Value& levels, Side& side, bool bids) {
        std::optional<long double> previous;
        for (const auto& l : levels.GetArray()) {
            if (!l.IsArray() || l.Size() != 2 || !l[0].IsString() || !l[1].IsString())
                return fail("a level is not [\"price\",\"size\"]");
            const std::string price(l[0].GetString(), l[0].GetStringLength());
            const std::string size(l[1].GetString(), l[1].GetStringLength());
            const auto p = tickgate::protocol::parse_decimal(price);
            const auto q = tickgate::protocol::parse_decimal(size);
            if (!p || !q) return fail("not a decimal: " + price + " / " + size);
            const long double key = static_cast<long double>(p->mantissa) / pow10(p->decimals);
            if (previous && (bids ? key >= *previous : key <= *previous))
                return fail(std::string(bids ? "bids" : "asks") + " not best first at " + price);
            previous = key;
            if (q->mantissa == 0)
                side.erase(key);
            else
                side[key] = Level{price, size};
        }
        return true;
    }

    static long double pow10(int n) {
        long double p = 1;
        while (n-- > 0) p *= 10;
        return p;
    }

    void append_side(const Side& side, std::string& s) const {
        const bool bids = &side == &bids_;
        std::size_t n = 0;
        auto put = [&](const Level& l) {
            if (n++) s += ',';
            s += l.price;
            s += ':';
            s += l.size;
        };
        if (bids)
            for (auto it = side.rbegin(); it != side.rend() && n < 10; ++it) put(it->second);
        else
            for (auto it = side.begin(); it != side.end() && n < 10; ++it) put(it->second);
    }

    std::optional<std::pair<std::string, std::string>> best(const Side& side) const {
        if (side.empty()) return std::nullopt;
        const Level& l = &side == &bids_ ? side.rbegin()->second : side.begin()->second;
        return std::make_pair(l.price, l.size);
    }

    Side bids_, asks_;
    std::uint64_t seq_ = 0;
    std::size_t messages_ = 0;
    bool has_snapshot_ = false;
    std::string error_;
};

}  // namespace e2e
