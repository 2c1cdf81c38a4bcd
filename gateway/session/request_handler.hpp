#pragma once
// What a client request does, for both dialects: subscribe and unsubscribe against the worker's
// registry (acks, errors, then snapshots), list, ping. The answers' form is the Replies'.

#include <string>
#include <vector>

#include "protocol/request.hpp"

namespace tickgate::gateway {

class Session;
class Replies;

void handle_request(Session& session, const protocol::Request& request, Replies& replies);

/// "ticker.BTC-USD,ticker.*" (the ?subscribe= list of an upgrade request) as entries; empty parts skipped.
std::vector<std::string> split_subscribe_list(std::string_view list);

}  // namespace tickgate::gateway
