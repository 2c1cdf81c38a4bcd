// protocol v1 requests: parse_request on arbitrary bytes, and the bounds its contract states.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocol/request.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto r = tp::parse_request(std::string_view(reinterpret_cast<const char*>(data), size));
    if (const auto* req = std::get_if<tp::Request>(&r)) {
        FUZZ_CHECK(req->topics.size() <= 1000);
        const bool has_topics = req->op == tp::Op::subscribe || req->op == tp::Op::unsubscribe;
        FUZZ_CHECK(has_topics ? !req->topics.empty() : req->topics.empty());
    } else {
        FUZZ_CHECK(!std::get<tp::RequestError>(r).message.empty());
    }
    return 0;
}
