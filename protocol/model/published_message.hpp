#pragma once
// What clients and operators send to other clients, as opposed to what feeds produce: a message
// published into a room (chat.lobby), and an operator's announcement. Unlike a MarketUpdate these
// carry a JSON value of any size, so they never travel through the ring: a gateway hands them to
// the broadcast engine directly, and between gateways they travel as bus records (type 4).

#include <cstdint>
#include <string>

namespace tickgate::protocol {

struct PublishedMessage {
    std::string topic;        // <publishable channel>.<room>, e.g. chat.lobby
    std::string from;         // the publisher's token sub, "anon:<session id>", or "admin"
    std::string data;         // the JSON value exactly as the client sent it (validated, not re-serialized)
    std::uint64_t seq = 0;    // per topic, +1 per message; 0 until the sequencer assigns it
    std::int64_t ts_ns = 0;   // when the sequencer assigned the seq, ns since the Unix epoch
    // The sequencer's seq space (protocol/epoch.hpp): the publisher's epoch for a message from the
    // bus; 0 when the receiving gateway sequences it (its own rooms' epoch applies).
    std::uint64_t epoch = 0;
};

struct Announcement {
    std::string event;        // [a-z0-9_]{1,27}, never a reserved name or an existing channel
    std::string data;         // a JSON value
    std::string topic;        // only this topic's subscribers; empty: every client
    std::int64_t ts_ns = 0;
};

}  // namespace tickgate::protocol
