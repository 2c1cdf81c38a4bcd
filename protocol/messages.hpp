#pragma once
// Encoders for every server -> client JSON message of protocol v1. Each appends to `out`.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/errors.hpp"
#include "protocol/model/market_update.hpp"

namespace tickgate::protocol {

/// {"type":"<channel>","topic":...,"seq":...,"ts":...,"snapshot":...,"bid":"..",...}
/// The hot path: one call per update (not per client). No allocation beyond growing `out`.
void encode_update(const MarketUpdate& u, bool snapshot, std::string& out);

void encode_welcome(std::string_view session, std::string_view version, std::uint32_t heartbeat_ms,
                    std::string& out);
/// type is "subscribed" or "unsubscribed".
void encode_topic_ack(std::string_view type, std::string_view id_json, std::span<const std::string> topics,
                      std::string& out);
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
