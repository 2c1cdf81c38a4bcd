#include "bench/load/discover.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <rapidjson/document.h>

#include <chrono>
#include <stdexcept>

#include "bench/load/client_frame.hpp"
#include "bench/load/upgrade.hpp"
#include "gateway/tls_socket.hpp"

namespace tickgate::load {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Tcp = asio::ip::tcp;
constexpr auto kStepTimeout = std::chrono::seconds(5);

/// Runs one asynchronous step to completion or the timeout (then closes the socket).
template <class Start>
void step(asio::io_context& io, Tcp::socket& socket, const char* what, Start start) {
    bool done = false;
    error_code ec;
    start([&](error_code e, auto&&...) {
        ec = e;
        done = true;
    });
    io.restart();
    io.run_for(kStepTimeout);
    if (!done) {
        socket.close(ec);
        io.restart();
        io.run();
        throw std::runtime_error(std::string(what) + ": no answer within 5 s");
    }
    if (ec) throw std::runtime_error(std::string(what) + ": " + ec.message());
}

template <class Stream>
std::vector<std::string> list_over(asio::io_context& io, Stream& stream, Tcp::socket& socket, const RunContext& run) {
    const auto& url = run.options.url;
    const std::string key = make_websocket_key();
    std::string out = build_upgrade_request(url.host + ":" + std::to_string(url.port), url.target, key);
    append_client_frame(out, WsOpcode::text, R"({"op":"list","id":"tickgate-load"})", 0x12345678);
    step(io, socket, "sending the upgrade", [&](auto h) { asio::async_write(stream, asio::buffer(out), h); });
    std::string data;
    std::size_t header = 0;
    char chunk[16384];
    const auto accept = expected_accept(key);
    for (;;) {
        std::size_t n = 0;
        step(io, socket, "reading the server's answer", [&](auto h) {
            stream.async_read_some(asio::buffer(chunk), [&n, h](error_code e, std::size_t k) mutable {
                n = k;
                h(e);
            });
        });
        data.append(chunk, n);
        if (header == 0) {
            const auto r = parse_upgrade_response(data, accept);
            if (r.status == UpgradeResponse::Status::incomplete) continue;
            if (r.status != UpgradeResponse::Status::switched)
                throw std::runtime_error("the WebSocket upgrade was refused (HTTP " + std::to_string(r.http_status) + ")");
            header = r.header_bytes;
        }
        std::string_view rest(data.data() + header, data.size() - header);
        for (;;) {
            ServerFrame frame;
            std::size_t consumed = 0, needed = 0;
            const auto status = decode_server_frame(rest, 1 << 24, frame, consumed, needed);
            if (status == DecodeStatus::error) throw std::runtime_error("bad WebSocket frame from the server");
            if (status == DecodeStatus::need_more) break;
            if (frame.op == WsOpcode::close) throw std::runtime_error("the server closed the connection");
            if (frame.op == WsOpcode::text) {
                auto topics = parse_topic_list(std::string(frame.payload));
                if (!topics.empty()) return topics;
            }
            rest.remove_prefix(consumed);
            header += consumed;
        }
    }
}

}  // namespace

std::vector<std::string> parse_topic_list(const std::string& text) {
    std::vector<std::string> topics;
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    if (d.HasParseError() || !d.IsObject()) return topics;
    const auto type = d.FindMember("type");
    const auto list = d.FindMember("topics");
    if (type == d.MemberEnd() || !type->value.IsString() || std::string_view(type->value.GetString()) != "topics" ||
        list == d.MemberEnd() || !list->value.IsArray())
        return topics;
    for (const auto& t : list->value.GetArray())
        if (t.IsString()) topics.emplace_back(t.GetString(), t.GetStringLength());
    return topics;
}

std::vector<std::string> discover_topics(const RunContext& run) {
    asio::io_context io;
    Tcp::socket socket(io);
    step(io, socket, "connecting", [&](auto h) { socket.async_connect(run.server, h); });
    if (!run.tls) return list_over(io, socket, socket, run);
    gateway::TlsSocket stream(std::move(socket), run.tls->native_handle(), gateway::TlsRole::client);
    step(io, stream.next_layer(), "TLS handshake", [&](auto h) { stream.async_handshake(h); });
    return list_over(io, stream, stream.next_layer(), run);
}

}  // namespace tickgate::load
