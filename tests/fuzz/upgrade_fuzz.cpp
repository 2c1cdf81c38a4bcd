// The HTTP upgrade path of gateway/http/http_session.cpp without sockets: the bytes a client sends,
// parsed by Beast's request_parser as the gateway configures it (header_limit 8 KiB, body_limit
// 64 KiB, eager, fed from a buffer the way http::async_read does), then what the gateway applies
// to a whole request: is_upgrade, the target split at '?', the Sec-WebSocket-Key check and its
// accept key, ?subscribe= and ?token=, percent_decode, the Origin check, Engine.IO's query on
// /socket.io/. On the header limit it decides 414 against 431 as reply_too_large() does.
//
// Input: byte 0 chooses the reads, the rest is what the client sends. The request is always
// parsed as reads of up to 16 KiB (the gateway's flat_buffer: the whole request in one piece when
// it is smaller); byte 0 > 0 parses it again with a first read of that many bytes and each next
// read twice the last (TCP segments), and a request that parses both ways must parse to the same
// thing.
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/base64.hpp"
#include "protocol/engineio.hpp"
#include "protocol/http_request.hpp"
#include "protocol/http_response.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr std::size_t kBufferBytes = 16 * 1024;  // HttpSession's beast::flat_buffer{16 * 1024}

// Found by this target (input corpus/upgrade_fuzz/regression-414-split): when the request line
// arrives in two reads and the header fields then pass the limit, Beast reports header_limit
// before it has parsed the request line (maybe_need_more looks for the end of the header first),
// so the target is empty; the gateway answered 414 to a request whose line was short (431 in one
// read). However the bytes arrive, the answer must be the same.

using Request = http::request<http::string_body>;

struct Outcome {
    beast::error_code ec;          // of the last put/put_eof; empty when a whole request parsed
    bool done = false;
    bool long_target = false;      // on header_limit: reply_too_large()'s "no target" (414)
    std::optional<Request> request;
};

/// What http::async_read does with a fresh parser: read into the buffer (the first read
/// `read_size` bytes, each next one twice the last, as a slow client's segments then a burst;
/// never more than the buffer holds), put() what is buffered, consume what the parser took, read
/// again on need_more; at the end of the stream put_eof() when the parser got something (else
/// end_of_stream). Growing reads keep a large request linear: the parser starts its line again on
/// every need_more.
Outcome parse(std::string_view wire, std::size_t read_size) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    parser.eager(true);
    std::string buffer;
    std::size_t offset = 0;
    Outcome out;
    for (;;) {
        if (!buffer.empty()) {
            beast::error_code ec;
            const std::size_t used = parser.put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
            FUZZ_CHECK(used <= buffer.size());
            buffer.erase(0, used);
            if (parser.is_done()) break;
            if (ec && ec != http::error::need_more) {
                out.ec = ec;
                break;
            }
            // read_op calls read_some again, which puts what is left before it reads.
            if (!ec && used > 0 && !buffer.empty()) continue;
        }
        if (offset == wire.size()) {
            beast::error_code ec;
            if (parser.got_some()) {
                parser.put_eof(ec);
                if (!ec && parser.is_done()) break;
                out.ec = ec ? ec : http::error::partial_message;
            } else {
                out.ec = http::error::end_of_stream;
            }
            break;
        }
        if (buffer.size() >= kBufferBytes) {  // a full buffer that the parser cannot take
            out.ec = http::error::buffer_overflow;
            break;
        }
        const std::size_t n = std::min({read_size, wire.size() - offset, kBufferBytes - buffer.size()});
        buffer.append(wire.substr(offset, n));
        offset += n;
        read_size = std::min(read_size * 2, kBufferBytes);
    }
    if (out.ec == http::error::header_limit) {
        // reply_too_large() decides on what the parser holds and what it had not consumed.
        out.long_target = tp::request_too_large_status(!parser.get().target().empty(), buffer, kHeaderLimit) == 414;
    }
    if (!out.ec) {
        FUZZ_CHECK(parser.is_done());
        out.done = true;
        out.request.emplace(parser.release());
    }
    return out;
}

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/// %XX for every byte: what percent_decode must turn back into `s`.
std::string percent_encode_all(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        out += '%';
        out += hex[c >> 4];
        out += (c & 1) ? hex[c & 15] : static_cast<char>(std::tolower(hex[c & 15]));  // either case
    }
    return out;
}

void check_percent_decode(std::string_view in) {
    const std::string out = tp::percent_decode(in);
    FUZZ_CHECK(out.size() <= in.size());
    if (in.find_first_of("%+") == std::string_view::npos) FUZZ_CHECK(out == in);
    FUZZ_CHECK(tp::percent_decode(percent_encode_all(in)) == in);
}

void check_query(std::string_view query, std::string_view name) {
    const std::string value = tp::query_param(query, name);
    FUZZ_CHECK(value.size() <= query.size());
    if (query.find(name) == std::string_view::npos) FUZZ_CHECK(value.empty());
    // A pair placed first is the one found, whatever follows it.
    std::string first(name);
    first += '=';
    first += percent_encode_all(query.substr(0, 64));
    first += '&';
    first += query;
    FUZZ_CHECK(tp::query_param(first, name) == query.substr(0, 64));
}

void check_key(std::string_view key) {
    const bool valid = tp::valid_websocket_key(key);
    if (valid) {
        FUZZ_CHECK(key.size() == 24 && key.ends_with("=="));
        std::string bytes;
        FUZZ_CHECK(tp::append_base64_decoded(key, bytes) && bytes.size() == 16);
        // Canonical: the key is the one encoding of its bytes.
        std::string again;
        tp::append_base64(bytes, again);
        FUZZ_CHECK(again == key);
    }
    // The gateway computes it for valid keys only; it has no precondition, so any key here.
    const std::string accept = tp::websocket_accept_key(key);
    FUZZ_CHECK(accept.size() == 28 && accept.back() == '=' && accept[26] != '=');
    FUZZ_CHECK(std::all_of(accept.begin(), accept.end() - 1, is_base64_char));
    if (valid) {
        // The same answer as Beast's own WebSocket handshake would give.
        beast::websocket::detail::sec_ws_accept_type beast_accept;
        beast::websocket::detail::make_sec_ws_accept(beast_accept, beast::string_view(key.data(), key.size()));
        FUZZ_CHECK(accept == std::string_view(beast_accept.data(), beast_accept.size()));
    }
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

/// What HttpSession::route, upgrade() and authenticate_upgrade() read of a whole request.
void apply_gateway(const Request& req) {
    const std::string_view target = view(req.target());
    FUZZ_CHECK(!target.empty());
    const auto qmark = target.find('?');
    const auto path = target.substr(0, qmark);
    const auto query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
    FUZZ_CHECK(path.size() + (qmark == std::string_view::npos ? 0 : 1 + query.size()) == target.size());
    (void)req.keep_alive();

    if (path == "/socket.io/" || path == "/socket.io") {
        tp::engineio::Query q;
        if (tp::engineio::parse_query(query, q) == tp::engineio::QueryError::none && !q.sid.empty())
            FUZZ_CHECK(query.find(q.sid) != std::string_view::npos);
    }

    const bool upgrade = beast::websocket::is_upgrade(req);
    if (upgrade) FUZZ_CHECK(req.method() == http::verb::get && req.version() >= 11);

    const std::string_view origin = view(req[http::field::origin]);
    const std::array<std::string, 2> allowed{"https://app.example.com", "http://localhost:8080"};
    FUZZ_CHECK(tp::origin_allowed({}, origin));  // no list: every origin
    const bool ok = tp::origin_allowed(allowed, origin);
    FUZZ_CHECK(ok == (origin.empty() || origin == allowed[0] || origin == allowed[1]));
    const std::array<std::string, 1> exact{std::string(origin)};
    FUZZ_CHECK(tp::origin_allowed(exact, origin));

    check_key(view(req[http::field::sec_websocket_key]));

    const std::string subscribe = tp::query_param(query, "subscribe");
    const std::string token = tp::query_param(query, "token");
    FUZZ_CHECK(subscribe.size() <= query.size() && token.size() <= query.size());
    check_query(query, "subscribe");
    check_query(query, "token");
    check_percent_decode(query);

    // authenticate_upgrade(): a Bearer header wins over ?token=.
    const std::string_view authorization = view(req[http::field::authorization]);
    constexpr std::string_view kBearer = "Bearer ";
    const bool has_bearer = authorization.size() > kBearer.size() && authorization.starts_with(kBearer);
    const std::string chosen = has_bearer ? std::string(authorization.substr(kBearer.size())) : token;
    if (has_bearer) FUZZ_CHECK(!chosen.empty());

    // The 101 carries the accept key in a header line: it must not be able to end the line.
    const std::string accept = tp::websocket_accept_key(view(req[http::field::sec_websocket_key]));
    FUZZ_CHECK(accept.find_first_of("\r\n") == std::string::npos);
    FUZZ_CHECK(req.body().size() <= kBodyLimit);
}

bool same_request(const Request& a, const Request& b) {
    if (a.method_string() != b.method_string() || a.target() != b.target() || a.version() != b.version() ||
        a.body() != b.body())
        return false;
    auto i = a.begin(), j = b.begin();
    for (; i != a.end() && j != b.end(); ++i, ++j)
        if (i->name_string() != j->name_string() || i->value() != j->value()) return false;
    return i == a.end() && j == b.end();
}

/// The request line ends (CRLF) within the header limit.
bool request_line_ends_within_limit(std::string_view wire) {
    return wire.substr(0, kHeaderLimit).find("\r\n") != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t segment = data[0];
    const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);

    const Outcome whole = parse(wire, kBufferBytes);
    if (whole.done) apply_gateway(*whole.request);
    if (whole.ec == http::error::header_limit) {
        // Read in one piece, the rule holds: no target exactly when the request line did not end.
        // (A request line that breaks inside the limit is bad_method/bad_target/bad_version.)
        if (whole.long_target) FUZZ_CHECK(!request_line_ends_within_limit(wire));
    }
    // Whatever the parse, the gateway's helpers take any bytes.
    check_percent_decode(wire.substr(0, 256));
    check_key(wire.substr(0, 24));

    if (segment > 0) {
        const Outcome parts = parse(wire, segment);
        if (whole.done && parts.done) FUZZ_CHECK(same_request(*whole.request, *parts.request));
        if (parts.done) apply_gateway(*parts.request);
        if (whole.ec == http::error::header_limit && parts.ec == http::error::header_limit)
            FUZZ_CHECK(whole.long_target == parts.long_target);
    }
    return 0;
}
