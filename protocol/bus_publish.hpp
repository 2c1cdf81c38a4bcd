#pragma once
// Client publishing between gateways (issue 16): a gateway asks tickgate-feed, the one sequencer,
// to publish a message into a room, by NATS request/reply on <prefix>-publish; the publisher checks
// it, gives it the room's next seq, publishes it as a bus record of type 4 on <prefix>.<topic>
// (bus_update.hpp) and answers with the seq. Here: the request and reply forms, and the checks
// the publisher makes (the gateways make the same before asking, with their own limits on top).
// protocol/README.md, "Client messages on the bus", is the reference.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/json_text.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {

inline constexpr std::uint8_t kPublishRequestVersion = 1;
inline constexpr std::size_t kPublishRequestHeaderSize = 5;  // magic, version, topic len u8, from len u16
inline constexpr std::size_t kMaxPublishedData = 4096;       // a message's JSON text, in bytes
inline constexpr std::size_t kMaxPublishedFrom = 1024;       // its sender's name (a token's sub), in bytes

/// Why a publish request (or a client message record) is refused.
enum class PublishRefusal {
    none,
    malformed,            // not a request of this form: magic, version, lengths
    bad_topic,            // not <channel>.<room>: channel [a-z0-9_]+ not reserved, room [a-z0-9_-]{1,20}
    market_data_channel,  // ticker, book, book50, trade (and the bus's bookkf): never published by clients
    bad_from,             // empty, over kMaxPublishedFrom bytes, not UTF-8, or with control characters
    data_too_large,       // over kMaxPublishedData bytes
    bad_json,             // data is not one JSON value (UTF-8, nested at most kMaxJsonDepth deep)
    no_reply_subject,     // a request the publisher could not answer (tickgate-feed only)
    too_many_rooms,       // the publisher's bound on rooms (tickgate-feed only)
};

/// A short stable name (snake_case) for logs, metrics and the reply's "error".
const char* publish_refusal_name(PublishRefusal r) noexcept;
/// One line saying what was wrong, for the reply's "reason".
const char* publish_refusal_text(PublishRefusal r) noexcept;

/// The channels that carry market data (and the bus's keyframe channel): a client message never
/// goes to one, so a gateway can never take one for a ticker, a book or a trade.
bool is_market_data_channel(std::string_view channel) noexcept;

/// Whether `topic` is a topic clients may publish into, by grammar (which channels are publishable
/// is each gateway's --publish-channels): <channel>.<room>, at most kMaxTopicLength bytes.
PublishRefusal check_published_topic(std::string_view topic) noexcept;

/// The published topic carried by a bus subject: its last two tokens ("md.chat.lobby" ->
/// "chat.lobby"), or empty when they are not one (see check_published_topic).
std::string_view published_topic_from_subject(std::string_view subject) noexcept;

/// The checks of a sender's name: 1 to kMaxPublishedFrom bytes of UTF-8 without control characters.
bool is_valid_published_from(std::string_view from) noexcept;

/// A request as decoded: views into the request's bytes.
struct PublishRequest {
    std::string_view topic;
    std::string_view from;
    std::string_view data;
};

/// The request on <prefix>-publish: [magic 0x54][version 1][topic length u8][from length u16 LE]
/// [topic][from][data: the rest]. Appends it to `out`. Needs topic.size() <= 255 and
/// from.size() <= 65535 (longer ones are refused by the decoder anyway: encode what fits).
void append_publish_request(std::string_view topic, std::string_view from, std::string_view data, std::string& out);

/// Decodes and checks a request: framing, then topic, from, data in that order (the first failure
/// is the refusal). On none, `out` views `request`.
PublishRefusal decode_publish_request(std::string_view request, PublishRequest& out) noexcept;

/// The reply, JSON: {"seq":N} on success, {"error":"<name>","reason":"<text>"} when refused or
/// failed (reason: any one line, e.g. NATS' own error text).
std::string publish_reply_ok(std::uint64_t seq);
std::string publish_reply_error(std::string_view name, std::string_view reason);
std::string publish_reply_error(PublishRefusal r);

/// Reads a reply: true with seq (>= 1) set, or false with `error` set to "<name>: <reason>" (or to
/// what was wrong with the reply itself).
bool decode_publish_reply(std::string_view reply, std::uint64_t& seq, std::string& error);

}  // namespace tickgate::protocol
