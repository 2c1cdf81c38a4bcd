#include "gateway/broadcast_engine.hpp"

#include <array>
#include <chrono>
#include <ctime>

#include "gateway/frame.hpp"
#include "gateway/log.hpp"
#include "gateway/newest_seq.hpp"
#include "gateway/update_batch.hpp"
#include "gateway/worker.hpp"
#include "protocol/messages.hpp"

namespace tickgate::gateway {
namespace {

std::int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Updates drained from the ring per batch: large enough to amortise the hand-off under load,
// small enough that a batch never holds a worker for long.
constexpr std::size_t kBatchMax = 256;
// Batches a worker may have queued before the engine waits for it, so a worker that falls behind
// slows the feed (counted as ring-full events) instead of growing its queue without bound.
constexpr std::size_t kMaxPendingBatchesPerWorker = 256;

}  // namespace

BroadcastEngine::BroadcastEngine(const Config& config, feeds::UpdateChannel& channel,
                                 std::vector<std::string> feed_names, std::vector<Worker*> workers,
                                 NewestSeqTable& newest)
    : config_(config), channel_(channel), workers_(std::move(workers)), newest_(newest) {
    for (auto& name : feed_names) {
        auto f = std::make_unique<FeedState>();
        f->name = std::move(name);
        feeds_.push_back(std::move(f));
    }
}

BroadcastEngine::~BroadcastEngine() { stop(); }

void BroadcastEngine::start() {
    started_ns_ = realtime_ns();
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void BroadcastEngine::stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    channel_.wake_consumer();
    thread_.join();
}

void BroadcastEngine::run(std::stop_token stop) {
    std::array<feeds::TickerUpdate, kBatchMax> buffer;
    std::int64_t next_check = 0;
    while (!stop.stop_requested()) {
        const std::size_t n = channel_.consume(buffer, std::chrono::milliseconds(50));
        if (n > 0) {
            wait_for_workers(stop);
            publish(buffer.data(), n);
        }
        const auto now = realtime_ns();
        if (now >= next_check) {
            check_freshness(now);
            next_check = now + 50'000'000;
        }
    }
}

void BroadcastEngine::wait_for_workers(const std::stop_token& stop) {
    for (Worker* w : workers_) {
        while (w->pending_batches() > kMaxPendingBatchesPerWorker && !stop.stop_requested()) {
            backpressure_waits_.add();
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }
}

void BroadcastEngine::publish(const feeds::TickerUpdate* updates, std::size_t n) {
    // One batch per worker, each with its own copy of every frame: a frame's reference count is then
    // touched by one thread only, instead of bouncing between cores once per subscriber.
    std::vector<std::shared_ptr<UpdateBatch>> batches(workers_.size());
    for (auto& b : batches) {
        b = std::make_shared<UpdateBatch>();
        b->items.reserve(n);
    }
    const auto now = realtime_ns();
    for (std::size_t i = 0; i < n; ++i) {
        const feeds::TickerUpdate& u = updates[i];
        if (u.feed >= feeds_.size()) continue;
        FeedState& feed = *feeds_[u.feed];
        feed.last_update_ns.store(now, std::memory_order_relaxed);
        feed.updates.add();
        auto it = topics_.find(u.topic());
        if (it == topics_.end()) {
            if (topics_.size() >= config_.max_topics) {
                topic_limit_drops_.add();
                continue;
            }
            const auto id = static_cast<std::uint32_t>(topics_.size());
            it = topics_.emplace(std::string(u.topic()), TopicEntry{id, u.feed}).first;
            topic_count_.store(topics_.size(), std::memory_order_relaxed);
        }
        if (it->second.owner != u.feed) {
            conflicts_.add();
            continue;
        }
        auto frame = make_text_frame([&](std::string& out) { protocol::encode_update(u, false, out); });
        frame->topic_id = it->second.id;
        frame->ts_ns = u.ts_ns;
        for (std::size_t w = 1; w < batches.size(); ++w)
            batches[w]->items.push_back(BatchItem{it->second.id, u, std::make_shared<const Frame>(*frame)});
        batches[0]->items.push_back(BatchItem{it->second.id, u, std::move(frame)});
        newest_.publish(it->second.id, u.seq);
    }
    if (batches[0]->items.empty()) return;
    for (std::size_t w = 0; w < workers_.size(); ++w) workers_[w]->post_batch(std::move(batches[w]));
}

void BroadcastEngine::check_freshness(std::int64_t now_ns) {
    const std::int64_t stale_ns = static_cast<std::int64_t>(config_.stale_ms) * 1'000'000;
    for (auto& feed : feeds_) {
        const auto last = feed->last_update_ns.load(std::memory_order_relaxed);
        const auto age = now_ns - (last != 0 ? last : started_ns_);
        const bool stale = age >= stale_ns;
        if (stale == feed->stale) continue;
        feed->stale = stale;
        const std::string message =
            stale ? "no update for " + std::to_string(age / 1'000'000) + " ms" : "updates flowing again";
        TG_LOG(warn, "feed %s is %s: %s", feed->name.c_str(), stale ? "stale" : "ok", message.c_str());
        std::string json;
        protocol::encode_status(feed->name, stale ? "stale" : "ok", message, json);
        for (Worker* w : workers_) w->post_status(feed->name, stale, json);
    }
}

std::vector<FeedHealth> BroadcastEngine::feed_health() const {
    const auto now = realtime_ns();
    const std::int64_t stale_ns = static_cast<std::int64_t>(config_.stale_ms) * 1'000'000;
    std::vector<FeedHealth> out;
    for (const auto& feed : feeds_) {
        const auto last = feed->last_update_ns.load(std::memory_order_relaxed);
        const auto age = now - (last != 0 ? last : started_ns_);
        out.push_back(FeedHealth{feed->name, age < stale_ns, age / 1'000'000, feed->updates.get()});
    }
    return out;
}

}  // namespace tickgate::gateway
