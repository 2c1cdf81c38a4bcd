#include "protocol/errors.hpp"

#include <gtest/gtest.h>

namespace tp = tickgate::protocol;

TEST(ErrorCodeName, MatchesTheWireNames) {
    EXPECT_EQ(tp::error_code_name(tp::ErrorCode::bad_request), "bad_request");
    EXPECT_EQ(tp::error_code_name(tp::ErrorCode::unknown_topic), "unknown_topic");
    EXPECT_EQ(tp::error_code_name(tp::ErrorCode::too_many_subscriptions), "too_many_subscriptions");
    EXPECT_EQ(tp::error_code_name(tp::ErrorCode::rate_limited), "rate_limited");
}
