#pragma once
// Small protocol steps shared by the C++ end-to-end tests.

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "json.hpp"

namespace e2e {

/// Reads messages until one of `type` arrives; nullopt at timeout or close.
inline std::optional<std::string> read_until_type(WssClient& client, const std::string& type,
                                                  std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto text = client.read_text(left);
        if (!text) return std::nullopt;
        if (message_type(*text) == type) return text;
    }
    return std::nullopt;
}

/// Sends {"op":"list"} and returns the topics of the reply; nullopt when none came.
inline std::optional<std::vector<std::string>> list_topics(WssClient& client, int id = 900) {
    if (!client.send_text(R"({"op":"list","id":)" + std::to_string(id) + "}")) return std::nullopt;
    const auto text = read_until_type(client, "topics", std::chrono::milliseconds(3000));
    if (!text) return std::nullopt;
    const auto doc = parse_json(*text);
    if (!doc.IsObject() || !doc.HasMember("topics") || !doc["topics"].IsArray()) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& t : doc["topics"].GetArray())
        if (t.IsString()) out.emplace_back(t.GetString());
    return out;
}

/// Connects to a running gateway on `port` (wss unless tls is false) and lists the topics, retrying
/// for up to `settle` until the count reaches `at_least` (feeds publish their first updates a few
/// milliseconds after start). nullopt when the connection or the request failed.
inline std::optional<std::vector<std::string>> topics_of(int port, std::size_t at_least, bool tls = true,
                                                         std::chrono::milliseconds settle = std::chrono::milliseconds(1500)) {
    WssClient client;
    ConnectOptions options;
    options.tls = tls;
    if (!client.connect(port, options)) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + settle;
    std::optional<std::vector<std::string>> topics;
    for (int id = 1;; ++id) {
        topics = list_topics(client, id);
        if (!topics || topics->size() >= at_least || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    client.close();
    return topics;
}

}  // namespace e2e
