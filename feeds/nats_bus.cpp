#include "feeds/nats_bus.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <deque>
#include <random>
#include <thread>
#include <unordered_map>

#include "feeds/runtime/log.hpp"

namespace tickgate::feeds {
namespace {

// Reconnect pacing: the first retry comes quickly (a server restart takes ~20 ms), later ones back
// off to 2 s so a long outage costs little; jitter keeps a fleet of gateways from retrying in step.
constexpr std::int64_t kBackoffBaseMs = 100;
constexpr std::int64_t kBackoffMaxMs = 2000;
// How long a JetStream API request may take before the caller gives up on it.
constexpr std::int64_t kJetStreamWaitMs = 2000;

std::int64_t reconnect_delay(natsConnection*, int attempts, void*) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    const int doublings = attempts < 5 ? attempts : 5;
    const std::int64_t ceiling = std::min(kBackoffMaxMs, kBackoffBaseMs << doublings);
    return std::uniform_int_distribution<std::int64_t>(ceiling / 2, ceiling)(rng);
}

std::string status_text(natsStatus s) {
    const char* last = nats_GetLastError(nullptr);
    std::string text = natsStatus_GetText(s);
    if (last && *last) text += std::string(" (") + last + ")";
    return text;
}

bool valid_host_port(std::string_view hp) {
    const std::size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == hp.size() || hp.size() - colon > 6) return false;
    for (char c : hp.substr(colon + 1))
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

bool parse_nats_servers(std::string_view spec, std::vector<std::string>& urls, std::string& error) {
    if (spec.starts_with("nats://")) spec.remove_prefix(7);
    urls.clear();
    while (true) {
        const std::size_t comma = spec.find(',');
        std::string_view entry = spec.substr(0, comma);
        if (entry.starts_with("nats://")) entry.remove_prefix(7);
        if (!valid_host_port(entry)) {
            error = "NATS servers must be HOST:PORT[,HOST:PORT...], not '" + std::string(entry) + "'";
            return false;
        }
        urls.push_back("nats://" + std::string(entry));
        if (comma == std::string_view::npos) break;
        spec.remove_prefix(comma + 1);
    }
    return true;
}

std::unique_ptr<NatsLink> NatsLink::open(const std::vector<std::string>& urls, const std::string& name, Events events,
                                         std::string& error, const std::function<int(natsOptions*)>& configure) {
    std::unique_ptr<NatsLink> link(new NatsLink());
    link->events_ = std::move(events);
    natsOptions* opts = nullptr;
    std::vector<const char*> servers;
    for (const auto& u : urls) servers.push_back(u.c_str());
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
    if (s == NATS_OK) s = natsOptions_SetName(opts, name.c_str());
    // Order matters to us (seq per topic), so one server at a time in the order given.
    if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, true);
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 1000);
    // Write each publish at once instead of leaving it to the flusher thread: latency over batching
    // (the library otherwise adds about a millisecond per message at low rates, measured).
    if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetCustomReconnectDelay(opts, reconnect_delay, nullptr);
    // A server that hangs without closing the socket is noticed within ~3 s.
    if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 1000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, link.get());
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_reconnected, link.get());
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected, link.get());
    if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_closed, link.get());
    if (s == NATS_OK && configure) s = static_cast<natsStatus>(configure(opts));
    if (s == NATS_OK) {
        s = natsConnection_Connect(&link->nc_, opts);
        if (s == NATS_OK) {
            link->connected_.store(true, std::memory_order_release);
            if (link->events_.up) link->events_.up();
        } else if (s == NATS_NOT_YET_CONNECTED) {
            TG_LOG(warn, "NATS %s: not reachable yet, retrying in the background", urls.front().c_str());
            s = NATS_OK;
        }
    }
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        error = "NATS: " + status_text(s);
        return nullptr;
    }
    return link;
}

void NatsLink::close() {
    if (!nc_ || closing_.exchange(true, std::memory_order_acq_rel)) return;
    // Callbacks run on the library's own thread and point at this object, so wait (briefly) for
    // the closed callback, the last one the library delivers for a connection, before going away.
    natsConnection_Close(nc_);
    for (int i = 0; i < 200 && !closed_.load(std::memory_order_acquire); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

NatsLink::~NatsLink() {
    if (!nc_) return;
    close();
    natsConnection_Destroy(nc_);
}

void NatsLink::on_connected(natsConnection*, void* self) {
    auto* link = static_cast<NatsLink*>(self);
    link->connected_.store(true, std::memory_order_release);
    TG_LOG(info, "NATS connected");
    if (link->events_.up) link->events_.up();
}

void NatsLink::on_reconnected(natsConnection* nc, void* self) {
    auto* link = static_cast<NatsLink*>(self);
    link->reconnects_.fetch_add(1, std::memory_order_relaxed);
    link->connected_.store(true, std::memory_order_release);
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    TG_LOG(info, "NATS reconnected to %s", url);
    if (link->events_.up) link->events_.up();
}

void NatsLink::on_disconnected(natsConnection*, void* self) {
    auto* link = static_cast<NatsLink*>(self);
    // The retry loop of a first connect reports a disconnect per failed round: log real drops only.
    if (!link->connected_.exchange(false, std::memory_order_acq_rel)) return;
    if (link->closing_.load(std::memory_order_acquire)) return;  // our own close, not an outage
    TG_LOG(warn, "NATS disconnected; reconnecting with backoff");
    if (link->events_.down) link->events_.down();
}

void NatsLink::on_closed(natsConnection*, void* self) {
    auto* link = static_cast<NatsLink*>(self);
    link->connected_.store(false, std::memory_order_release);
    link->closed_.store(true, std::memory_order_release);
}

std::string stream_name_for_prefix(std::string_view prefix) {
    std::string name = "TICKGATE_";
    for (char c : prefix) name += (c == '.' || c == '*' || c == '>' || c == ' ') ? '_' : c;
    return name;
}

std::string live_subject_for_prefix(std::string_view prefix) { return std::string(prefix) + "-live"; }

std::string publish_subject_for_prefix(std::string_view prefix) { return std::string(prefix) + "-publish"; }

std::string announce_subject_for_prefix(std::string_view prefix) { return std::string(prefix) + "-announce"; }

bool ensure_last_value_stream(natsConnection* nc, const std::string& name, std::string_view prefix,
                              const StreamSpec& spec, StreamEnsured& result, std::string& error) {
    result = {};
    const jsStorageType storage = spec.storage == StreamStorage::memory ? js_MemoryStorage : js_FileStorage;
    jsCtx* js = nullptr;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = kJetStreamWaitMs;
    natsStatus s = natsConnection_JetStream(&js, nc, &jo);
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_GetStreamInfo(&si, js, name.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND) {
        const std::string subject = std::string(prefix) + ".>";
        const char* subjects[] = {subject.c_str()};
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        cfg.Name = name.c_str();
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = storage;
        cfg.MaxMsgsPerSubject = spec.per_subject;
        s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
        result.created = s == NATS_OK;
    } else if (s == NATS_OK && si->Config) {
        result.storage_kept = si->Config->Storage != storage;
        if (si->Config->MaxMsgsPerSubject != spec.per_subject) {
            // Kept as the flag says now: fewer drops the oldest of each subject at once, more keeps
            // from here on.
            si->Config->MaxMsgsPerSubject = spec.per_subject;
            jsStreamInfo* after = nullptr;
            s = js_UpdateStream(&after, js, si->Config, nullptr, &jerr);
            if (after) jsStreamInfo_Destroy(after);
            result.updated = s == NATS_OK;
        }
    }
    if (si) jsStreamInfo_Destroy(si);
    if (js) jsCtx_Destroy(js);
    if (s != NATS_OK) {
        error = "JetStream stream " + name + ": " + status_text(s);
        if (jerr != 0) error += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
        return false;
    }
    return true;
}

namespace {

/// Reads what the stream holds on `subjects` through an ephemeral consumer with `policy`, until the
/// stored messages are done (messages published meanwhile may come too): on_stored(subject, data,
/// stream seq) for each. `what` names them in the time-budget error.
LastValuesResult read_stored(natsConnection* nc, const std::string& subjects, jsDeliverPolicy policy,
                             std::chrono::milliseconds budget, const char* what,
                             const std::function<void(std::string_view, std::string_view, std::uint64_t)>& on_stored,
                             std::size_t& count, std::string& error) {
    count = 0;
    const auto deadline = std::chrono::steady_clock::now() + budget;
    jsCtx* js = nullptr;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = kJetStreamWaitMs;
    natsStatus s = natsConnection_JetStream(&js, nc, &jo);
    if (s != NATS_OK) {
        error = "JetStream: " + status_text(s);
        return LastValuesResult::failed;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Config.DeliverPolicy = policy;
    so.Config.AckPolicy = js_AckNone;
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_SubscribeSync(&sub, js, subjects.c_str(), &jo, &so, &jerr);
    if (s == NATS_NOT_FOUND) {
        jsCtx_Destroy(js);
        return LastValuesResult::no_stream;
    }
    LastValuesResult result = LastValuesResult::loaded;
    std::uint64_t expected = 0;
    if (s == NATS_OK) {
        // Delivered + pending, asked right after the consumer was made: how many it holds for us.
        jsConsumerInfo* ci = nullptr;
        s = natsSubscription_GetConsumerInfo(&ci, sub, &jo, &jerr);
        if (s == NATS_OK) {
            expected = ci->Delivered.Consumer + ci->NumPending;
            jsConsumerInfo_Destroy(ci);
        }
    }
    while (s == NATS_OK && count < expected) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            error = "JetStream: " + std::to_string(count) + " of " + std::to_string(expected) + " " + what +
                    " read within the time budget";
            result = LastValuesResult::failed;
            break;
        }
        natsMsg* msg = nullptr;
        s = natsSubscription_NextMsg(&msg, sub, left.count());
        if (s != NATS_OK) break;
        ++count;
        // Messages published after the consumer was made come too; the metadata says when the
        // stored ones are done even if a subject was added meanwhile.
        jsMsgMetaData* meta = nullptr;
        const bool have_meta = natsMsg_GetMetaData(&meta, msg) == NATS_OK;
        const std::uint64_t stream_seq = have_meta ? meta->Sequence.Stream : count;
        const bool caught_up = have_meta && meta->NumPending == 0;
        if (meta) jsMsgMetaData_Destroy(meta);
        on_stored(natsMsg_GetSubject(msg),
                  std::string_view(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))),
                  stream_seq);
        natsMsg_Destroy(msg);
        if (caught_up) break;
    }
    if (s != NATS_OK && result == LastValuesResult::loaded) {
        error = "JetStream: " + status_text(s);
        result = LastValuesResult::failed;
    }
    if (sub) {
        natsSubscription_Unsubscribe(sub);  // deletes the ephemeral consumer
        natsSubscription_Destroy(sub);
    }
    jsCtx_Destroy(js);
    return result;
}

}  // namespace

LastValuesResult read_last_values(natsConnection* nc, const std::string& subjects, std::chrono::milliseconds budget,
                                  const std::function<void(std::string_view, std::string_view)>& on_message,
                                  std::size_t& count, std::string& error) {
    return read_stored(
        nc, subjects, js_DeliverLastPerSubject, budget, "latest values",
        [&](std::string_view subject, std::string_view data, std::uint64_t) { on_message(subject, data); }, count,
        error);
}

LastValuesResult read_recent_values(natsConnection* nc, const std::string& subjects, std::size_t per_subject,
                                    std::size_t max_subjects, std::chrono::milliseconds budget,
                                    const std::function<void(std::string_view, std::string_view)>& on_message,
                                    std::size_t& count, std::string& error) {
    // Everything the stream holds on the subjects: at most its messages per subject each (the
    // publisher's --history), of which the last per_subject are kept.
    struct Stored {
        std::uint64_t stream_seq;
        std::string data;
    };
    std::unordered_map<std::string, std::deque<Stored>> by_subject;
    const auto result = read_stored(
        nc, subjects, js_DeliverAll, budget, "stored messages",
        [&](std::string_view subject, std::string_view data, std::uint64_t stream_seq) {
            auto it = by_subject.find(std::string(subject));
            if (it == by_subject.end() && by_subject.size() < max_subjects)
                it = by_subject.emplace(std::string(subject), std::deque<Stored>{}).first;
            if (it == by_subject.end()) return;
            auto& kept = it->second;
            if (kept.size() == per_subject) kept.pop_front();
            kept.push_back({stream_seq, std::string(data)});
        },
        count, error);
    // In the stream's order over all subjects, as they were published.
    std::vector<std::pair<std::uint64_t, std::pair<const std::string*, const std::string*>>> order;
    for (const auto& [subject, kept] : by_subject)
        for (const auto& m : kept) order.push_back({m.stream_seq, {&subject, &m.data}});
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [seq, m] : order) on_message(*m.first, *m.second);
    return result;
}

}  // namespace tickgate::feeds
