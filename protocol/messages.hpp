#pragma once
// Encoders for every server -> client JSON message of protocol v1. Each appends to `out`.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/errors.hpp"
#include "protocol/model/market_update.hpp"
#include "protocol/model/order_book.hpp"

namespace tickgate::protocol {

/// {"type":"<channel>","topic":...,"seq":...,"ts":...,"snapshot":...,"bid":"..",...}
/// The hot path: one call per update (not per client). No allocation beyond growing `out`.
void encode_update(const MarketUpdate& u, bool snapshot, std::string& out);

/// A book view message (a delta or a snapshot), with the levels as mantissas.
struct BookMessage {
    std::string_view type;   // the topic's channel: "book" or "book50"
    std::string_view topic;  // "book.BTC-USD"
    std::uint64_t seq = 0;
    std::uint64_t prev_seq = 0;  // written only when !snapshot
    bool snapshot = false;
    std::int64_t ts_ns = 0;
    std::span<const PriceLevel> bids, asks;  // best first; size 0 (in a delta) removes the level
    std::uint32_t checksum = 0;
    std::uint8_t price_decimals = 2, size_decimals = 4;
};

/// {"type":"book","topic":..,"seq":S,"prev_seq":P,"ts":..,"snapshot":false,"bids":[["p","s"],..],
///  "asks":[..],"checksum":C}; a snapshot has "snapshot":true and no prev_seq. Any number of
/// levels; no allocation beyond growing `out`. type and topic are cut to kMaxTopicLength.
void encode_book(const BookMessage& m, std::string& out);
/// A snapshot of the first `depth` levels per side of `book` (their cached texts), with the book's
/// checksum (always its first kChecksumDepth levels): the message a subscriber of a view gets first.
void encode_book_snapshot(std::string_view type, std::string_view topic, std::uint64_t seq, std::int64_t ts_ns,
                          const OrderBook& book, std::size_t depth, std::string& out);
/// {"type":"trade","topic":"trade.BTC-USD","seq":N,"ts":..,"trade_id":T,"price":"..","size":"..",
///  "side":"buy"|"sell"}, of an update of kind trade; type is the topic's channel.
void encode_trade(const MarketUpdate& u, std::string& out);

/// {"type":"welcome","session":..,"version":..,"heartbeat_ms":N[,"publish":["chat",..]]}: "publish"
/// (the channels whose rooms clients may publish to) only when there are any, so a gateway with
/// publishing off sends the welcome it always did.
void encode_welcome(std::string_view session, std::string_view version, std::uint32_t heartbeat_ms,
                    std::span<const std::string> publish_channels, std::string& out);
/// type is "subscribed" or "unsubscribed".
void encode_topic_ack(std::string_view type, std::string_view id_json, std::span<const std::string> topics,
                      std::string& out);

/// What a subscribe ack adds for resuming (protocol/README.md, "Resume").
struct TopicEpoch {
    std::string_view topic;
    std::uint64_t epoch = 0;  // never 0 here: a topic without a known epoch is left out
};
struct TopicRecovered {
    std::string_view topic;
    bool recovered = false;
};
struct SubscribeAckExtras {
    std::span<const TopicEpoch> epochs;         // every topic the request covers, in order
    std::span<const TopicRecovered> recovered;  // one per since key, in the request's order
    bool had_since = false;                     // the request had "since": "recovered" is written
};
/// ,"epochs":{"<topic>":"<epoch>",..} when there are any, ,"recovered":{"<topic>":true|false,..}
/// when the request had "since". Appended inside a subscribe ack's object, before its '}'.
void append_subscribe_extras(const SubscribeAckExtras& extras, std::string& out);
/// {"type":"subscribed"[,"id":..],"topics":[..]} with the extras above.
void encode_subscribed(std::string_view id_json, std::span<const std::string> topics, const SubscribeAckExtras& extras,
                       std::string& out);
/// A stored live message (a trade's, a room's; the v1 object as sent) as a --history-snapshot
/// message: the same object with "snapshot":true after its "ts" (where a ticker has it). False,
/// `out` unchanged, when `live_json` has no "ts" member at the top level.
bool append_as_snapshot(std::string_view live_json, std::string& out);
void encode_topic_list(std::string_view id_json, std::span<const std::string_view> topics, std::string& out);
void encode_pong(std::string_view id_json, std::int64_t ts_ns, std::string& out);
/// "topics" is written only when non-empty.
void encode_error(std::string_view id_json, ErrorCode code, std::string_view message,
                  std::span<const std::string> topics, std::string& out);
/// The fields of an error without braces or type: "code":"..","message":..[,"topics":[..]]. Shared by
/// the v1 error object and the error a Socket.IO ack carries, so both spell an error the same way.
void append_error_fields(ErrorCode code, std::string_view message, std::span<const std::string> topics,
                         std::string& out);
/// ["a","b"] with each item a JSON string literal.
void append_string_array(std::span<const std::string> items, std::string& out);
void append_string_array(std::span<const std::string_view> items, std::string& out);

void encode_status(std::string_view feed, std::string_view state, std::string_view message, std::string& out);

/// Appends `s` as a JSON string literal (quotes and escapes included).
void append_json_string(std::string_view s, std::string& out);

}  // namespace tickgate::protocol
