#pragma once
// parse_request under test: what a request parses to, or the error it gets, failing the test
// (not crashing it) when the other came.

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "protocol/request.hpp"

namespace request_checks {

inline tickgate::protocol::Request ok(const std::string& text) {
    namespace tp = tickgate::protocol;
    auto r = tp::parse_request(text);
    if (auto* e = std::get_if<tp::RequestError>(&r)) {
        ADD_FAILURE() << text << " -> " << e->message;
        return {};
    }
    return std::get<tp::Request>(r);
}

inline tickgate::protocol::RequestError err(const std::string& text) {
    namespace tp = tickgate::protocol;
    auto r = tp::parse_request(text);
    if (!std::holds_alternative<tp::RequestError>(r)) {
        ADD_FAILURE() << text << " was accepted";
        return {};
    }
    return std::get<tp::RequestError>(r);
}

}  // namespace request_checks
