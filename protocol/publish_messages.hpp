#pragma once
// The messages of client publishing (protocol/README.md, "Publishing"): a published message as its
// room's subscribers receive it, and the answer to the publisher.
//
//   {"type":"chat","topic":"chat.lobby","seq":7,"ts":1764090000123456789,"from":"alice","data":{"text":"hi"}}
//   {"type":"published","id":1,"topic":"chat.lobby","seq":7}
//   Socket.IO ack of emit('publish', {topic, data}, ack):   {"topic":"chat.lobby","seq":7}

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/model/published_message.hpp"

namespace tickgate::protocol {

/// The delivered message; `type` is the topic's channel, `data` goes out as the client wrote it.
/// Once per message (not per client), by the broadcast engine.
void encode_published_message(const PublishedMessage& m, std::string& out);
/// {"type":"published",["id":..,]"topic":..,"seq":N}
void encode_published(std::string_view id_json, std::string_view topic, std::uint64_t seq, std::string& out);
/// {"topic":..,"seq":N}: the same, as a Socket.IO ack carries it (acks have neither type nor id).
void encode_published_ack(std::string_view topic, std::uint64_t seq, std::string& out);

}  // namespace tickgate::protocol
