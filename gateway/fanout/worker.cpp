#include "gateway/fanout/worker.hpp"

#include <pthread.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/uring_writer.hpp"

namespace tickgate::gateway {
namespace {
// Batches a busy worker may gather before it must flush (see on_batch).
constexpr unsigned kMaxBatchesPerFlush = 16;
// Batches a worker without sessions lets gather before it takes them (see post_batch): below the
// engine's limit of batches pending per worker (broadcast_engine.cpp), which it would otherwise
// take for a worker falling behind.
constexpr std::size_t kMaxParkedBatches = 128;
}  // namespace

Worker::Worker(unsigned index, const Config& config, const NewestSeqTable* newest)
    : index_(index),
      config_(config),
      // Lag (feed ts to fan-out) past which this worker skips updates already superseded.
      behind_ns_(config.behind_skip_ms ? static_cast<std::int64_t>(config.behind_skip_ms) * 1'000'000 : 0),
      newest_(config.behind_skip_ms ? newest : nullptr),
      sweep_timer_(io_),
      throttle_timer_(io_) {
    registry_.on_throttled([this] { arm_throttle(); });
}

Worker::~Worker() { join(); }

bool Worker::use_uring(unsigned max_files, std::string& error) {
    uring_ = UringWriter::create(io_, max_files, error, &stats_.uring_submits);
    return uring_ != nullptr;
}

void Worker::drop_uring() noexcept { uring_.reset(); }

void Worker::start() {
    schedule_sweep();
    thread_ = std::thread([this] {
        // Named for top -H, perf and gdb (and the e2e test that freezes one worker).
        const std::string name = "worker-" + std::to_string(index_);
        pthread_setname_np(pthread_self(), name.c_str());
        // A worker's handlers report their errors through error codes; an exception here is a bug
        // we want to see rather than a silently dead thread.
        io_.run();
    });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::stop() { io_.stop(); }

std::int64_t Worker::now_ns() const { return runtime::realtime_ns(); }

void Worker::post_batch(std::shared_ptr<const UpdateBatch> batch) {
    pending_batches_.fetch_add(1, std::memory_order_relaxed);
    bool parked, full;
    {
        std::lock_guard lock(inbox_mutex_);
        inbox_.push_back(std::move(batch));
        // Worker 0 runs the engine, so it is awake for its batches anyway.
        parked = index_ != 0 && session_count_.load(std::memory_order_relaxed) == 0;
        full = parked && inbox_.size() == kMaxParkedBatches;
    }
    // One handler per batch while awake, as a post of the batch itself would be: other handlers
    // (a session's reads, a close) run between two batches.
    if (!parked) boost::asio::post(io_, [this] { take_batches(1); });
    else if (full) boost::asio::post(io_, [this] { take_inbox(); });
}

void Worker::take_inbox() { take_batches(std::numeric_limits<std::size_t>::max()); }

void Worker::take_batches(std::size_t most) {
    // Only handlers, attach() and the sweep call this, never anything inside on_batch, so batches
    // run one at a time and in order whoever takes them.
    for (std::size_t n = 0; n < most; ++n) {
        std::shared_ptr<const UpdateBatch> batch;
        {
            std::lock_guard lock(inbox_mutex_);
            // Taken already (a handler's batch, by an earlier take_inbox()): batches run in order
            // whoever takes them.
            if (inbox_.empty()) break;
            batch = std::move(inbox_.front());
            inbox_.pop_front();
        }
        on_batch(*batch);
        pending_batches_.fetch_sub(1, std::memory_order_relaxed);
    }
}

void Worker::on_batch(const UpdateBatch& batch) {
    const auto t = now_ns();
    if (batch.handed_out_ns != 0) stats_.stage(LatencyStage::handoff).observe_ns(t - batch.handed_out_ns);
    for (const BatchItem& item : batch.items) {
        registry_.ensure_topic(item.topic_id, item.update);
        registry_.note_position(item.topic_id, item.update.seq, item.offset, item.epoch);
        if (!item.frame) continue;  // a topic announced ahead of its first message
        // Only a worker that is really behind skips (--behind-skip-ms, a quarter second by default):
        // a short scheduling hiccup must not cost a fast client a gap, a long one is worth
        // recovering from at once. Only tickers: a skipped book delta would break every client's
        // book, and a trade is never superseded.
        if (newest_ && item.update.kind == protocol::UpdateKind::ticker && t - item.update.ts_ns > behind_ns_ &&
            newest_->superseded(item.topic_id, item.update.seq)) {
            registry_.skip(item.topic_id, item.update, item.frame, item.offset);
            stats_.updates_skipped_behind.add();
            continue;
        }
        registry_.deliver(item.topic_id, item.update, item.frame, t, item.offset);
    }
    // Corking without a timer: while more batches are already queued behind this one, keep
    // gathering, so a busy worker writes several updates per session per socket write. An idle
    // worker (the common case) flushes at once. The cap keeps writes flowing under sustained load.
    const bool more_queued = pending_batches_.load(std::memory_order_relaxed) > 1;
    if (more_queued && ++batches_since_flush_ < kMaxBatchesPerFlush) return;
    batches_since_flush_ = 0;
    flush_dirty();
}

void Worker::flush_dirty() {
    // Corking: everything a batch queued for a session goes out in one write.
    registry_.flush_dirty([this](Subscriber& s) {
        // Counted here, not when a write starts: a stalled client never starts another write.
        stats_.messages_conflated.add(s.queue().take_conflated_count());
        stats_.book_deltas_merged.add(s.queue().take_merged_count());
        stats_.trades_dropped_slow.add(s.queue().take_dropped_trade_count());
        if (s.queue().overflowed()) stats_.slow_consumer_disconnects.add();
        s.on_delivered();
    });
    // Every write the pass started goes to the kernel in one call.
    if (uring_) uring_->submit();
}

void Worker::post_status(std::string feed, bool stale, std::string json) {
    boost::asio::post(io_, [this, feed = std::move(feed), stale, json = std::move(json)] {
        const StatusFrames status = frames::status(json);
        if (stale)
            stale_statuses_[feed] = status;
        else
            stale_statuses_.erase(feed);
        for (auto& [raw, session] : sessions_) session->on_status(status);
    });
}

void Worker::post_notice(std::string json) {
    boost::asio::post(io_, [this, json = std::move(json)] {
        const StatusFrames status = frames::status(json);
        for (auto& [raw, session] : sessions_) session->on_status(status);
    });
}

void Worker::post_announcement(std::shared_ptr<const StatusFrames> frames, std::string topic,
                               std::function<void(std::size_t)> done) {
    boost::asio::post(io_, [this, frames = std::move(frames), topic = std::move(topic), done = std::move(done)] {
        std::size_t queued = 0;
        if (topic.empty()) {
            for_each_session([&](Subscriber& s) { queued += s.on_announcement(*frames); });
        } else if (const auto id = registry_.find(topic)) {
            // Held by owner: a session without room for it closes, and leaves the list meanwhile.
            std::vector<std::shared_ptr<Subscriber>> subscribers;
            registry_.for_each_subscriber(*id, [&](Subscriber& s) {
                if (auto it = sessions_.find(&s); it != sessions_.end()) subscribers.push_back(it->second);
            });
            for (auto& s : subscribers) queued += s->on_announcement(*frames);
        }
        done(queued);
    });
}

std::vector<FramePtr> Worker::current_stale_statuses(Wire wire) const {
    std::vector<FramePtr> out;
    for (const auto& [feed, status] : stale_statuses_) out.push_back(status.for_wire(wire));
    return out;
}

void Worker::post_drain() {
    boost::asio::post(io_, [this] {
        draining_ = true;
        // close() may detach sessions synchronously; iterate over a copy.
        std::vector<std::shared_ptr<Subscriber>> open;
        for (auto& [raw, session] : sessions_) open.push_back(session);
        for (auto& session : open) session->on_drain();
    });
}

void Worker::attach(std::shared_ptr<Subscriber> session) {
    Subscriber* raw = session.get();
    sessions_.emplace(raw, std::move(session));
    {
        std::lock_guard lock(inbox_mutex_);
        session_count_.store(sessions_.size(), std::memory_order_relaxed);
    }
    // What waited while the worker had no session: before the session's first request. With
    // sessions already there every batch has its handler coming, and runs in it, as before.
    if (sessions_.size() == 1) take_inbox();
}

void Worker::detach(Subscriber& session) {
    registry_.release(session);
    sessions_.erase(&session);
    session_count_.store(sessions_.size(), std::memory_order_relaxed);
}

std::chrono::milliseconds Worker::sweep_interval() const {
    return std::chrono::milliseconds(std::clamp<std::uint32_t>(config_.heartbeat_ms / 4, 5, 100));
}

void Worker::schedule_sweep() {
    sweep_timer_.expires_after(sweep_interval());
    sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        on_sweep();
        schedule_sweep();
    });
}

void Worker::arm_throttle() {
    stats_.throttled_streams.add(static_cast<std::int64_t>(registry_.throttled_streams()) - stats_.throttled_streams.get());
    if (throttle_armed_) {
        // A newly active interval may be due before the one the timer is set for.
        for (std::uint8_t rate = 1; rate <= kThrottleCount; ++rate)
            if (next_tick_ms_[rate - 1] == 0 && registry_.throttled_subscriptions(rate) > 0) {
                throttle_timer_.cancel();  // its handler re-arms
                break;
            }
        return;
    }
    const std::int64_t now_ns = runtime::realtime_ns();
    const std::int64_t now_ms = now_ns / 1'000'000;
    std::int64_t next_ms = 0;
    for (std::uint8_t rate = 1; rate <= kThrottleCount; ++rate) {
        std::int64_t& tick = next_tick_ms_[rate - 1];
        if (registry_.throttled_subscriptions(rate) == 0) {
            tick = 0;
            continue;
        }
        const std::int64_t interval = protocol::kThrottleIntervalsMs[rate - 1];
        if (tick == 0 || tick < now_ms - interval) tick = (now_ms / interval + 1) * interval;
        if (next_ms == 0 || tick < next_ms) next_ms = tick;
    }
    if (next_ms == 0) return;  // nothing throttled here any more
    throttle_armed_ = true;
    // The wall clock decides the moment; the steady clock waits for it.
    throttle_timer_.expires_after(std::chrono::nanoseconds(std::max<std::int64_t>(next_ms * 1'000'000 - now_ns, 0)));
    throttle_timer_.async_wait([this](const boost::system::error_code& ec) {
        throttle_armed_ = false;
        if (ec && ec != boost::asio::error::operation_aborted) return;
        if (!ec) on_throttle_timer();
        arm_throttle();
    });
}

void Worker::on_throttle_timer() {
    const std::int64_t t = now_ns();
    const std::int64_t now_ms = t / 1'000'000;
    std::size_t queued = 0;
    for (std::uint8_t rate = 1; rate <= kThrottleCount; ++rate) {
        std::int64_t& tick = next_tick_ms_[rate - 1];
        if (tick == 0 || tick > now_ms) continue;
        queued += registry_.deliver_throttled(rate, t);
        const std::int64_t interval = protocol::kThrottleIntervalsMs[rate - 1];
        tick = (now_ms / interval + 1) * interval;
    }
    stats_.throttled_encodes.add(registry_.throttled_encodes() - stats_.throttled_encodes.get());
    if (queued == 0) return;
    stats_.throttled_messages.add(queued);
    flush_dirty();
}

void Worker::on_sweep() {
    // Parked batches are at most one sweep old however quiet the feed.
    if (sessions_.empty()) take_inbox();
    const auto t = now_ns();
    // A sweep far later than it was due means this worker did not run meanwhile (SIGSTOP, a
    // stalled host): its clients could neither be pinged nor heard, so that time is not their
    // silence, and a heartbeat timeout now would close them for the worker's own. Each session is
    // credited the lag before it is judged; this pass then pings them all.
    const std::int64_t due_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(sweep_interval()).count();
    const std::int64_t lag_ns = last_sweep_ns_ == 0 ? 0 : t - last_sweep_ns_ - due_ns;
    last_sweep_ns_ = t;
    const bool paused = lag_ns > due_ns + 200'000'000;
    if (paused) TG_LOG(debug, "worker %u: the liveness sweep ran %lld ms late", index_, static_cast<long long>(lag_ns / 1'000'000));
    std::vector<std::shared_ptr<Subscriber>> all;
    all.reserve(sessions_.size());
    for (auto& [raw, session] : sessions_) all.push_back(session);
    for (auto& session : all) {
        if (paused) session->on_worker_paused(lag_ns);
        session->on_sweep(t);
    }
}

}  // namespace tickgate::gateway
