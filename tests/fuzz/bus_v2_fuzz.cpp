// The bus message decoder (v1 and v2 typed records, subject groups included) on arbitrary bytes.
// An accepted message delivers exactly the ticker records it counted, each valid and with the
// subject of the group it stands in, and re-encoding them with the message's epoch and skipping
// the unknown records gives back the same ticker bytes: the decoder neither invents nor loses a
// ticker, never gives one the wrong subject, and never reads past the message. Book and trade
// records re-encode to their own bytes, and a book record's ring fragments carry its levels.
// Client message records (type 4) re-encode to their own bytes too, carry a sender's name and JSON
// data within the limits, and stand only under a subject of their kind (a room, not a market topic).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/bus_publish.hpp"
#include "protocol/bus_update.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly `size` bytes, so ASan sees any read past the message's end.
    std::string bytes(reinterpret_cast<const char*>(data), size);
    const std::string_view payload(bytes);
    tp::BusMessage m;
    if (tp::parse_bus_message(payload, m) != tp::BusDecodeError::none) return 0;
    FUZZ_CHECK(m.version == tp::kBusVersion || m.version == tp::kBusVersion2);
    FUZZ_CHECK(m.records.data() >= payload.data() &&
               m.records.data() + m.records.size() == payload.data() + payload.size());

    std::string tickers_again;
    std::string subjects_again;  // each delivered ticker's subject and a NUL
    std::size_t delivered = 0, grouped = 0;
    tp::for_each_ticker(m, [&](std::string_view subject, const tp::MarketUpdate& u) {
        FUZZ_CHECK(u.seq >= 1 && u.price_decimals <= 18 && u.size_decimals <= 18);
        // The subject views the message, and names a topic.
        if (!subject.empty()) {
            FUZZ_CHECK(subject.data() >= payload.data() && subject.data() + subject.size() <= payload.data() + payload.size());
            FUZZ_CHECK(!tp::topic_from_subject(subject).empty());
            ++grouped;
        }
        std::array<std::byte, tp::kBusRecordHeaderSize + tp::kTickerBodySize> rec{};
        tp::encode_ticker_record(u, rec.data());
        tickers_again.append(reinterpret_cast<const char*>(rec.data()), rec.size());
        subjects_again.append(subject).push_back('\0');
        ++delivered;
    });
    FUZZ_CHECK(delivered == m.tickers);
    // ungrouped counts every known record outside a group, whatever its type.
    std::size_t ungrouped = 0, known = 0;
    tp::for_each_record(m, [&](std::string_view subject, tp::BusRecordType, std::string_view) {
        ++known;
        if (subject.empty()) ++ungrouped;
    });
    FUZZ_CHECK(ungrouped == m.ungrouped && known == m.tickers + m.books + m.trades);
    FUZZ_CHECK(grouped <= m.tickers);
    if (m.version == tp::kBusVersion) {
        FUZZ_CHECK(payload.size() == tp::kBusUpdateSize && delivered == 1 && m.unknown == 0);
        FUZZ_CHECK(std::memcmp(tickers_again.data() + tp::kBusRecordHeaderSize, payload.data() + 2,
                               tp::kTickerBodySize) == 0);
        return 0;
    }
    // Walk the records independently: the ticker ones, concatenated, are what was re-encoded,
    // each with the subject of its group (none outside a group).
    std::string tickers_seen, subjects_seen, others_seen, messages_seen;
    std::size_t ungrouped_messages = 0;
    std::size_t unknown = 0, groups = 0;
    const auto walk = [&](std::string_view rest, std::string_view subject, bool top, auto& self) -> void {
        for (std::size_t steps = 0; !rest.empty() && steps <= payload.size(); ++steps) {
            FUZZ_CHECK(rest.size() >= tp::kBusRecordHeaderSize);
            const std::size_t len = static_cast<std::uint8_t>(rest[1]) | (static_cast<std::uint8_t>(rest[2]) << 8);
            FUZZ_CHECK(rest.size() >= tp::kBusRecordHeaderSize + len);
            const std::string_view body = rest.substr(tp::kBusRecordHeaderSize, len);
            if (rest[0] == 1) {
                tickers_seen.append(rest.substr(0, tp::kBusRecordHeaderSize + len));
                subjects_seen.append(subject).push_back('\0');
            } else if (rest[0] == 2 || rest[0] == 3) {
                others_seen.append(rest.substr(0, tp::kBusRecordHeaderSize + len));
                FUZZ_CHECK(subject.empty() || !tp::topic_from_subject(subject).empty());
            } else if (rest[0] == 4) {
                messages_seen.append(rest.substr(0, tp::kBusRecordHeaderSize + len));
                FUZZ_CHECK(subject.empty() || !tp::published_topic_from_subject(subject).empty());
                if (top) ++ungrouped_messages;
            } else if (rest[0] == 5) {
                FUZZ_CHECK(top && !body.empty());  // an accepted message has no nested or empty group
                const std::size_t n = static_cast<std::uint8_t>(body[0]);
                FUZZ_CHECK(body.size() >= 1 + n);
                ++groups;
                self(body.substr(1 + n), body.substr(1, n), false, self);
            } else {
                ++unknown;
            }
            rest.remove_prefix(tp::kBusRecordHeaderSize + len);
        }
        FUZZ_CHECK(rest.empty());
    };
    walk(m.records, {}, true, walk);
    FUZZ_CHECK(unknown == m.unknown);
    FUZZ_CHECK(groups == m.groups);
    FUZZ_CHECK(tickers_seen == tickers_again);
    FUZZ_CHECK(subjects_seen == subjects_again);

    // Books and trades: decoded and encoded again, byte for byte; a book's fragments hold its levels
    // in order, flagged first and last.
    std::string others_again;
    std::size_t books = 0, trades = 0;
    tp::for_each_record(m, [&](std::string_view, tp::BusRecordType type, std::string_view body) {
        if (type == tp::BusRecordType::book_delta) {
            ++books;
            const tp::BusBookRecord r(body);
            std::vector<tp::BusBookLevel> levels;
            for (std::size_t i = 0; i < r.level_count(); ++i) levels.push_back(r.level(i));
            std::string rec(tp::book_record_size(levels.size()), '\0');
            tp::encode_book_record(r.change(), levels, reinterpret_cast<std::byte*>(rec.data()));
            others_again += rec;
            std::size_t at = 0, fragments = 0;
            bool last_seen = false;
            tp::for_each_book_fragment(r, [&](const tp::MarketUpdate& u) {
                FUZZ_CHECK(!last_seen && u.seq == r.seq() && u.book.count <= tp::kLevelsPerFragment);
                FUZZ_CHECK(((u.book.flags & tp::kBookFirst) != 0) == (fragments == 0));
                FUZZ_CHECK(((u.book.flags & tp::kBookReset) != 0) == (fragments == 0 && r.reset()));
                for (std::size_t i = 0; i < u.book.count; ++i, ++at)
                    FUZZ_CHECK(u.book.price[i] == levels[at].price && u.book.size[i] == levels[at].size &&
                               (((u.book.ask_mask >> i) & 1) != 0) == levels[at].ask);
                last_seen = (u.book.flags & tp::kBookLast) != 0;
                ++fragments;
            });
            FUZZ_CHECK(last_seen && at == levels.size());
        } else if (type == tp::BusRecordType::trade) {
            ++trades;
            tp::MarketUpdate u;
            tp::decode_trade_body(body, u);
            std::string rec(tp::kBusRecordHeaderSize + tp::kTradeBodySize, '\0');
            tp::encode_trade_record(u, reinterpret_cast<std::byte*>(rec.data()));
            others_again += rec;
        }
    });
    FUZZ_CHECK(books == m.books && trades == m.trades);
    FUZZ_CHECK(others_seen == others_again);

    // Client messages: each within the limits, and encoded again byte for byte.
    std::string messages_again;
    std::size_t messages = 0;
    tp::for_each_client_message(m, [&](std::string_view subject, const tp::BusClientMessage& c) {
        ++messages;
        FUZZ_CHECK(c.seq >= 1 && tp::is_valid_published_from(c.from) && c.data.size() <= tp::kMaxPublishedData &&
                   tp::is_valid_json_value(c.data));
        FUZZ_CHECK(subject.empty() || !tp::published_topic_from_subject(subject).empty());
        tp::PublishedMessage pm;
        pm.seq = c.seq;
        pm.ts_ns = c.ts_ns;
        pm.from.assign(c.from);
        pm.data.assign(c.data);
        std::string rec(tp::client_message_record_size(pm.from.size(), pm.data.size()), '\0');
        tp::encode_client_message_record(pm, reinterpret_cast<std::byte*>(rec.data()));
        messages_again += rec;
    });
    FUZZ_CHECK(messages == m.client_messages && ungrouped_messages == m.ungrouped_client_messages);
    FUZZ_CHECK(messages_seen == messages_again);

    // And the encoder's own v2 message of the first ticker parses back to the same epoch.
    if (delivered > 0) {
        tp::MarketUpdate first;
        tp::for_each_ticker(m, [&](const tp::MarketUpdate& u) {
            if (first.seq == 0) first = u;
        });
        std::array<std::byte, tp::kBusV2TickerSize> one{};
        tp::encode_bus_v2_ticker(first, m.epoch, one.data());
        tp::BusMessage again;
        FUZZ_CHECK(tp::parse_bus_message(std::string_view(reinterpret_cast<const char*>(one.data()), one.size()), again) ==
                   tp::BusDecodeError::none);
        FUZZ_CHECK(again.epoch == m.epoch && again.tickers == 1 && again.unknown == 0);
    }
    return 0;
}
