#include "gateway/admin/admin_api.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "feeds/feed_adapter.hpp"
#include "feeds/runtime/clock.hpp"
#include "gateway/admin/json_body.hpp"
#include "gateway/fanout/announcements.hpp"
#include "gateway/fanout/worker.hpp"
#include "protocol/announcement.hpp"
#include "protocol/http_request.hpp"
#include "protocol/messages.hpp"
#include "protocol/topic.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::gateway::admin {
namespace {

using Kind = JsonMember::Kind;

// RFC 6455 7.4.2: 4000-4999 are for applications; a close frame's reason fits in 123 bytes.
constexpr std::uint16_t kMinCloseCode = 4000, kMaxCloseCode = 4999, kDefaultCloseCode = 4000;
constexpr std::size_t kMaxReasonBytes = 123;

constexpr std::string_view kWwwAuthenticate = "WWW-Authenticate: Bearer realm=\"tickgate-admin\"\r\n";

Response bad_request(std::string_view message) { return error_response(400, "bad_request", message); }

Response workers_silent() {
    return error_response(503, "unavailable", "the workers did not answer within 2 s (is the gateway stopping?)");
}

Response ok(std::string body, std::string action) {
    Response r;
    r.body = std::move(body);
    r.action = std::move(action);
    return r;
}

std::string quoted(std::string_view s) {
    std::string out;
    protocol::append_json_string(s, out);
    return out;
}

/// The key of "Bearer <key>" (the scheme in any case, RFC 7235), or nullopt for another form.
std::optional<std::string_view> bearer_key(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer";
    if (authorization.size() <= scheme.size() || authorization[scheme.size()] != ' ') return std::nullopt;
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if ((authorization[i] | 0x20) != scheme[i]) return std::nullopt;
    auto key = authorization.substr(scheme.size());
    key.remove_prefix(std::min(key.find_first_not_of(' '), key.size()));
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    if (key.empty()) return std::nullopt;
    return key;
}

/// A query parameter's raw value, or nullopt when it is absent ("limit=" is present and empty).
std::optional<std::string> find_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name)
            return eq == std::string_view::npos ? std::string() : protocol::percent_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

/// A whole unsigned decimal number, or nullopt ("4e3", "4000.0", "-1", "" are not).
template <typename T>
std::optional<T> whole_number(std::string_view text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || text[0] == '-') return std::nullopt;
    return value;
}

/// A member that must be a non-empty string when present; the problem, or empty when it is fine.
std::string string_member_problem(const JsonObject& body, std::string_view name, bool required) {
    const JsonMember* m = body.find(name);
    if (!m) return required ? "field '" + std::string(name) + "' is required" : std::string();
    if (m->kind != Kind::string)
        return "field '" + std::string(name) + "' must be a string, not " + std::string(kind_name(m->kind));
    if (m->text.empty()) return "field '" + std::string(name) + "' must not be empty";
    return {};
}

/// Runs work(worker) on every worker's thread and waits for them all (at most kWorkerWait): each
/// one's result in worker order, or nullopt when one did not answer in time.
template <typename T, typename Work>
std::optional<std::vector<T>> on_every_worker(const std::vector<Worker*>& workers, Work work) {
    struct Gather {
        std::mutex mutex;
        std::vector<T> results;
        std::size_t left = 0;
        std::promise<void> all;
    };
    auto gather = std::make_shared<Gather>();
    gather->results.resize(workers.size());
    gather->left = workers.size();
    auto all = gather->all.get_future();
    if (workers.empty()) return std::vector<T>{};
    for (std::size_t i = 0; i < workers.size(); ++i) {
        Worker* w = workers[i];
        boost::asio::post(w->io(), [gather, i, w, work] {
            T result = work(*w);
            std::lock_guard lock(gather->mutex);
            gather->results[i] = std::move(result);
            if (--gather->left == 0) gather->all.set_value();
        });
    }
    if (all.wait_for(kWorkerWait) != std::future_status::ready) return std::nullopt;
    std::lock_guard lock(gather->mutex);
    return std::move(gather->results);
}

/// 2026-12-02T16:53:23.123Z
std::string iso8601(std::int64_t ns_since_epoch) {
    const std::time_t seconds = static_cast<std::time_t>(ns_since_epoch / 1'000'000'000);
    const int ms = static_cast<int>((ns_since_epoch / 1'000'000) % 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", ms);
    return text;
}

void append_session(const SessionInfo& s, std::string& out) {
    out += R"({"session":)";
    protocol::append_json_string(s.id, out);
    out += R"(,"user":)";
    if (s.user)
        protocol::append_json_string(*s.user, out);
    else
        out += "null";
    out += R"(,"peer":)";
    protocol::append_json_string(s.peer, out);
    out += s.wire == Wire::socketio ? R"(,"protocol":"socketio")" : R"(,"protocol":"v1")";
    out += s.polling ? R"(,"transport":"polling")" : R"(,"transport":"websocket")";
    out += R"(,"subscriptions":)" + std::to_string(s.subscriptions);
    out += R"(,"connected_since":")" + iso8601(s.connected_since_ns) + "\"}";
}

}  // namespace

std::string_view endpoint_name(Endpoint e) noexcept {
    switch (e) {
    case Endpoint::broadcast: return "broadcast";
    case Endpoint::disconnect: return "disconnect";
    case Endpoint::connections: return "connections";
    case Endpoint::other:
    case Endpoint::count: break;
    }
    return "other";
}

Endpoint endpoint_of(std::string_view target) noexcept {
    const auto path = target.substr(0, target.find('?'));
    if (path == "/api/broadcast") return Endpoint::broadcast;
    if (path == "/api/disconnect") return Endpoint::disconnect;
    if (path == "/api/connections") return Endpoint::connections;
    return Endpoint::other;
}

Response error_response(int status, std::string_view code, std::string_view message) {
    Response r;
    r.status = status;
    r.body = R"({"error":)" + quoted(code) + R"(,"message":)" + quoted(message) + "}";
    r.action.assign(message);
    return r;
}

AdminApi::AdminApi(const AdminKey& key, std::vector<Worker*> workers, std::size_t max_queue_bytes,
                   feeds::MessageBus* bus)
    : key_(key), workers_(std::move(workers)), max_announcement_bytes_(max_queue_bytes / 2), bus_(bus) {}

Response AdminApi::handle(const Request& request) {
    Response r = route(request);
    count(endpoint_of(request.target), r.status);
    return r;
}

void AdminApi::count(Endpoint endpoint, int status) noexcept {
    const auto it = std::find(kStatuses.begin(), kStatuses.end(), status);
    const std::size_t column = it == kStatuses.end() ? 6 : static_cast<std::size_t>(it - kStatuses.begin());  // else 500
    calls_[static_cast<std::size_t>(endpoint)][column].fetch_add(1, std::memory_order_relaxed);
}

std::vector<AdminApi::CallCount> AdminApi::call_counts() const {
    std::vector<CallCount> out;
    for (std::size_t e = 0; e < calls_.size(); ++e)
        for (std::size_t s = 0; s < kStatuses.size(); ++s)
            if (const auto n = calls_[e][s].load(std::memory_order_relaxed))
                out.push_back(CallCount{static_cast<Endpoint>(e), kStatuses[s], n});
    return out;
}

Response AdminApi::route(const Request& request) {
    // The key first, whatever the path: without it a caller learns nothing, not even what exists.
    if (request.authorization.empty()) {
        auto r = error_response(401, "unauthorized", "missing Authorization: Bearer <key>");
        r.extra_headers = kWwwAuthenticate;
        return r;
    }
    const auto presented = bearer_key(request.authorization);
    if (!presented || !key_.matches(*presented)) {
        auto r = error_response(401, "unauthorized", presented ? "wrong key" : "Authorization must be Bearer <key>");
        r.extra_headers = kWwwAuthenticate;
        return r;
    }
    const auto qmark = request.target.find('?');
    const auto query = qmark == std::string_view::npos ? std::string_view{} : request.target.substr(qmark + 1);
    const Endpoint endpoint = endpoint_of(request.target);
    if (endpoint == Endpoint::other)
        return error_response(404, "not_found", "no such endpoint: POST /api/broadcast, POST /api/disconnect, "
                                                "GET /api/connections");
    const bool is_get = endpoint == Endpoint::connections;
    if (request.method != (is_get ? "GET" : "POST")) {
        auto r = error_response(405, "method_not_allowed", is_get ? "use GET" : "use POST");
        r.extra_headers = is_get ? "Allow: GET\r\n" : "Allow: POST\r\n";
        return r;
    }
    switch (endpoint) {
    case Endpoint::broadcast: return broadcast(request.body);
    case Endpoint::disconnect: return disconnect(request.body);
    default: return connections(query);
    }
}

Response AdminApi::broadcast(std::string_view body) {
    auto parsed = parse_json_object(body);
    if (auto* problem = std::get_if<std::string>(&parsed)) return bad_request(*problem);
    const JsonObject& fields = std::get<JsonObject>(parsed);
    if (auto problem = string_member_problem(fields, "event", true); !problem.empty()) return bad_request(problem);
    if (auto problem = string_member_problem(fields, "topic", false); !problem.empty()) return bad_request(problem);
    const JsonMember* data = fields.find("data");
    if (!data) return bad_request("field 'data' is required (any JSON value)");

    protocol::Announcement a;
    a.event = fields.find("event")->text;
    a.data = data->json;
    if (const JsonMember* topic = fields.find("topic")) a.topic = topic->text;
    if (const auto problem = protocol::event_name_problem(a.event); !problem.empty())
        return bad_request("'" + a.event + "' cannot name an event: " + std::string(problem));
    if (!a.topic.empty() && protocol::classify_entry(a.topic) != protocol::EntryKind::topic)
        return bad_request("field 'topic' must be an exact topic (channel.SYMBOL-QUOTE), got '" + a.topic + "'");
    if (a.data.size() > max_announcement_bytes_)
        return bad_request("field 'data' is " + std::to_string(a.data.size()) + " bytes; at most " +
                           std::to_string(max_announcement_bytes_) + " (half of --max-queue-bytes) fit a client's queue");

    // Every worker holds the same topics (the engine hands each the same stream): the first one
    // answers for the gateway.
    struct TopicFacts {
        bool event_is_channel = false;
        bool topic_known = true;
    };
    // Captures are copies: a worker that answers after kWorkerWait must not touch this frame.
    auto facts = on_every_worker<TopicFacts>({workers_.front()}, [event = a.event, topic = a.topic](Worker& w) {
        TopicFacts f;
        for (const auto name : w.registry().topic_names())
            if (protocol::topic_channel(name) == event) f.event_is_channel = true;
        if (!topic.empty()) f.topic_known = w.registry().find(topic).has_value();
        return f;
    });
    if (!facts) return workers_silent();
    if (facts->front().event_is_channel)
        return bad_request("'" + a.event + "' cannot name an event: it is a channel of this gateway (a Socket.IO "
                           "client could not tell the announcement from its updates)");
    if (!facts->front().topic_known) return bad_request("no feed of this gateway publishes topic '" + a.topic + "'");

    auto delivered = std::make_shared<std::promise<std::size_t>>();
    auto counted = delivered->get_future();
    const std::string scope = a.topic.empty() ? "every client" : "the subscribers of " + a.topic;
    const std::string event = a.event;
    const std::size_t bytes = a.data.size();
    // The other gateways' clients get it through the bus (their count is not ours to know); the
    // ts is stamped once, so every gateway's clients see the same one.
    if (bus_) {
        a.ts_ns = runtime::realtime_ns();
        bus_->forward_announcement(a);
    }
    deliver_announcement(workers_, std::move(a), [delivered](std::size_t n) { delivered->set_value(n); });
    if (counted.wait_for(kWorkerWait) != std::future_status::ready) return workers_silent();
    const std::size_t n = counted.get();
    return ok(R"({"delivered":)" + std::to_string(n) + "}", "broadcast '" + event + "' (" + std::to_string(bytes) +
                                                                 " bytes of data) to " + scope + ": delivered to " +
                                                                 std::to_string(n) + (bus_ ? ", and forwarded to the other gateways" : ""));
}

Response AdminApi::disconnect(std::string_view body) {
    auto parsed = parse_json_object(body);
    if (auto* problem = std::get_if<std::string>(&parsed)) return bad_request(*problem);
    const JsonObject& fields = std::get<JsonObject>(parsed);
    const bool by_session = fields.find("session") != nullptr, by_user = fields.find("user") != nullptr;
    if (by_session == by_user) return bad_request("give exactly one of 'session' and 'user'");
    const std::string_view selector = by_session ? "session" : "user";
    if (auto problem = string_member_problem(fields, selector, true); !problem.empty()) return bad_request(problem);
    const std::string wanted = fields.find(selector)->text;

    std::uint16_t code = kDefaultCloseCode;
    if (const JsonMember* m = fields.find("code")) {
        const auto n = m->kind == Kind::number ? whole_number<unsigned>(m->json) : std::nullopt;
        if (!n || *n < kMinCloseCode || *n > kMaxCloseCode)
            return bad_request("field 'code' must be an integer from 4000 to 4999");
        code = static_cast<std::uint16_t>(*n);
    }
    std::string reason;
    if (const JsonMember* m = fields.find("reason")) {
        if (m->kind != Kind::string) return bad_request("field 'reason' must be a string");
        if (m->text.size() > kMaxReasonBytes || !protocol::is_valid_utf8(m->text))
            return bad_request("field 'reason' must be at most 123 bytes of UTF-8 (a close frame's room)");
        reason = m->text;
    }

    auto closed = on_every_worker<std::size_t>(workers_, [by_session, wanted, code, reason](Worker& w) {
        std::size_t n = 0;
        w.for_each_session([&](Subscriber& s) {
            SessionInfo info;
            if (!s.describe(info)) return;
            if (by_session ? info.id != wanted : info.user != wanted) return;
            s.on_operator_close(code, reason);
            ++n;
        });
        return n;
    });
    if (!closed) return workers_silent();
    std::size_t n = 0;
    for (const auto c : *closed) n += c;
    return ok(R"({"disconnected":)" + std::to_string(n) + "}", "disconnect " + std::string(selector) + " " +
                                                                    quoted(wanted) + " with " + std::to_string(code) +
                                                                    ": " + std::to_string(n) + " sessions closed");
}

Response AdminApi::connections(std::string_view query) {
    std::uint32_t limit = kDefaultPageSize;
    if (const auto text = find_param(query, "limit")) {
        const auto n = whole_number<std::uint32_t>(*text);
        if (!n || *n == 0 || *n > kMaxPageSize) return bad_request("limit must be an integer from 1 to 1000");
        limit = *n;
    }
    const std::string after = find_param(query, "after").value_or("");

    auto described = on_every_worker<std::vector<SessionInfo>>(workers_, [](Worker& w) {
        std::vector<SessionInfo> out;
        w.for_each_session([&](Subscriber& s) {
            SessionInfo info;
            if (s.describe(info)) out.push_back(std::move(info));
        });
        return out;
    });
    if (!described) return workers_silent();
    std::vector<SessionInfo> sessions;
    for (auto& per_worker : *described)
        for (auto& s : per_worker) sessions.push_back(std::move(s));
    // The cursor is the last session id of a page: ids are fixed-width hex and never change (an
    // upgrade from polling keeps its id), so the order is stable while sessions come and go.
    std::sort(sessions.begin(), sessions.end(), [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });

    std::size_t v1 = 0, polling = 0, anonymous = 0;
    std::map<std::string, std::size_t> by_user;
    for (const auto& s : sessions) {
        v1 += s.wire == Wire::v1;
        polling += s.polling;
        if (s.user)
            ++by_user[*s.user];
        else
            ++anonymous;
    }
    std::string out = R"({"totals":{"sessions":)" + std::to_string(sessions.size());
    out += R"(,"by_protocol":{"v1":)" + std::to_string(v1) + R"(,"socketio":)" + std::to_string(sessions.size() - v1);
    out += R"(},"by_transport":{"websocket":)" + std::to_string(sessions.size() - polling) + R"(,"polling":)" +
           std::to_string(polling);
    out += R"(},"by_user":{)";
    bool first = true;
    for (const auto& [user, n] : by_user) {
        if (!first) out += ',';
        first = false;
        protocol::append_json_string(user, out);
        out += ':' + std::to_string(n);
    }
    out += R"(},"anonymous":)" + std::to_string(anonymous) + R"(},"sessions":[)";
    auto it = std::upper_bound(sessions.begin(), sessions.end(), after,
                               [](const std::string& cursor, const SessionInfo& s) { return cursor < s.id; });
    std::size_t shown = 0;
    for (; it != sessions.end() && shown < limit; ++it, ++shown) {
        if (shown) out += ',';
        append_session(*it, out);
    }
    out += R"(],"next":)";
    out += it != sessions.end() ? quoted(std::prev(it)->id) : "null";
    out += '}';
    return ok(std::move(out), "connections: " + std::to_string(shown) + " of " + std::to_string(sessions.size()) +
                                  " sessions" + (after.empty() ? "" : " after " + quoted(after)));
}

}  // namespace tickgate::gateway::admin
