#include "gateway/fanout/broadcast_engine.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <future>
#include <span>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "gateway/fanout/topic_history.hpp"
#include "protocol/epoch.hpp"
#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/update_batch.hpp"
#include "gateway/fanout/worker.hpp"
#include "feeds/feed_adapter.hpp"
#include "feeds/runtime/log.hpp"
#include "protocol/messages.hpp"
#include "protocol/model/order_book.hpp"
#include "protocol/topic.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;

namespace {

using runtime::realtime_ns;

// Updates drained from the ring per batch: large enough to amortise the hand-off under load,
// small enough that a batch never holds a worker for long.
constexpr std::size_t kBatchMax = 256;
// Batches drained in one turn before worker 0's own sessions get a turn.
constexpr int kBatchesPerTurn = 4;
// Batches a worker may have queued before the engine stops draining, so a worker that falls
// behind slows the feed (counted as ring-full events) instead of growing its queue without bound.
constexpr std::size_t kMaxPendingBatchesPerWorker = 256;
constexpr auto kBehindRetry = std::chrono::microseconds(100);
constexpr auto kFreshnessPeriod = std::chrono::milliseconds(50);

}  // namespace

struct BroadcastEngine::Loop {
    explicit Loop(asio::io_context& io, int wake_fd)
        // The descriptor is the channel's: it is released, never closed, on the way out.
        : wake(io, wake_fd), behind_retry(io), freshness(io) {}
    ~Loop() { wake.release(); }

    asio::posix::stream_descriptor wake;
    asio::steady_timer behind_retry;
    asio::steady_timer freshness;
    std::array<protocol::MarketUpdate, kBatchMax> buffer;
    bool waiting = false;       // an async_wait on `wake` is pending
    bool seemed_stuck = false;  // the last freshness check saw updates waiting while `waiting`
    bool stopped = false;
};

BroadcastEngine::BroadcastEngine(const Config& config, feeds::UpdateChannel& channel,
                                 std::vector<std::string> feed_names, std::vector<Worker*> workers,
                                 NewestSeqTable& newest, std::vector<const feeds::UpstreamStats*> upstreams)
    : config_(config), channel_(channel), workers_(std::move(workers)), newest_(newest) {
    for (std::size_t i = 0; i < feed_names.size(); ++i) {
        auto f = std::make_unique<FeedState>();
        f->name = std::move(feed_names[i]);
        f->upstream = i < upstreams.size() ? upstreams[i] : nullptr;
        if (f->upstream) f->disconnects_seen = f->upstream->disconnects.load(std::memory_order_relaxed);
        f->epoch = protocol::random_epoch();
        feeds_.push_back(std::move(f));
    }
    rooms_epoch_ = protocol::random_epoch();
}

BroadcastEngine::~BroadcastEngine() { stop(); }

void BroadcastEngine::start() {
    started_ns_ = realtime_ns();
    asio::io_context& io = workers_.front()->io();
    asio::dispatch(io, [this, &io] {
        loop_ = std::make_unique<Loop>(io, channel_.wake_fd());
        // A NATS feed read on this worker publishes on this thread: it asks for a drain through
        // the loop rather than through the eventfd (see UpdateChannel::set_same_thread_wake).
        channel_.set_same_thread_wake([this, &io] { asio::post(io, [this] { drain(); }); });
        schedule_freshness_check();
        drain();
    });
}

void BroadcastEngine::stop() {
    if (started_ns_ == 0 || stop_requested_) return;
    stop_requested_ = true;
    asio::io_context& io = workers_.front()->io();
    auto done = std::make_shared<std::promise<void>>();
    auto stopped = done->get_future();
    asio::post(io, [this, done] {
        if (loop_) {
            // Handlers already queued see `stopped`; the cancelled ones end with an error.
            loop_->stopped = true;
            channel_.set_same_thread_wake({});
            loop_->wake.cancel();
            loop_->behind_retry.cancel();
            loop_->freshness.cancel();
        }
        done->set_value();
    });
    // Worker 0 runs until the server stops it, after this; only a server that failed to start
    // has a worker that never ran, and then nothing of the engine ever ran either.
    if (stopped.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
        TG_LOG(warn, "broadcast engine: worker 0 did not answer the stop request");
    // The Loop itself goes with the engine, after the workers have stopped (see Server).
}

void BroadcastEngine::wait_for_updates() {
    // Still waiting from an earlier arm: a same-thread wake drained without ending that wait.
    if (loop_->waiting) return;
    loop_->waiting = true;
    loop_->wake.async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        loop_->waiting = false;
        // operation_aborted without `stopped` is the freshness check's nudge (see there).
        if (loop_->stopped || (ec && ec != asio::error::operation_aborted)) return;
        std::uint64_t count = 0;
        // Resets the eventfd; EAGAIN (a wake-up already consumed) is harmless.
        [[maybe_unused]] const auto n = ::read(channel_.wake_fd(), &count, sizeof count);
        drain();
    });
}

bool BroadcastEngine::workers_behind() const {
    for (const Worker* w : workers_)
        if (w->pending_batches() > kMaxPendingBatchesPerWorker) return true;
    return false;
}

void BroadcastEngine::drain() {
    if (loop_->stopped) return;
    if (workers_behind()) {
        // Leave the updates in the ring: its producers wait, and worker 0 keeps serving meanwhile.
        backpressure_waits_.add();
        loop_->behind_retry.expires_after(kBehindRetry);
        loop_->behind_retry.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) drain();
        });
        return;
    }
    for (int turn = 0; turn < kBatchesPerTurn; ++turn) {
        const std::size_t n = channel_.try_consume(loop_->buffer);
        if (n == 0) {
            if (channel_.arm_wake()) return wait_for_updates();
            continue;  // an update arrived while the ring looked empty
        }
        publish(loop_->buffer.data(), n);
    }
    // Still busy: this turn's batches (posted to this worker too) run first, then we go on.
    asio::post(workers_.front()->io(), [this] { drain(); });
}

void BroadcastEngine::schedule_freshness_check() {
    loop_->freshness.expires_after(kFreshnessPeriod);
    loop_->freshness.async_wait([this](const boost::system::error_code& ec) {
        if (ec || loop_->stopped) return;
        // A safety net, not the wake-up path: updates still waiting while the engine sleeps, at two
        // checks in a row, would mean a lost wake-up (once is a wake-up on its way). Bound the
        // damage to two periods, and say so.
        const bool stuck = loop_->waiting && channel_.depth() > 0 && !channel_.wake_pending();
        if (stuck && loop_->seemed_stuck) {
            TG_LOG(warn, "broadcast engine: updates were waiting in the ring without a wake-up");
            loop_->wake.cancel();
        }
        loop_->seemed_stuck = stuck && !loop_->seemed_stuck;
        check_freshness(realtime_ns());
        if (history_) history_->expire(realtime_ns());
        schedule_freshness_check();
    });
}

// A symbol's source book and the views derived from it. Worker 0 only.
struct BroadcastEngine::BookSource {
    struct View {
        std::uint32_t topic_id = 0;
        std::size_t depth = 0;
        std::string topic;
        std::uint64_t last_seq = 0;  // seq of the view's last message: the next one's prev_seq
    };
    protocol::OrderBook book{2, 4, protocol::kBookCapacity};
    std::array<View, 2> views;
    // The first kMaxBookDepth levels of each side before the change in progress, to diff the views
    // (their capacity is kept from change to change: no allocation after the first).
    std::array<std::vector<protocol::PriceLevel>, 2> before;
    bool in_change = false;

    void capture_before() {
        for (const auto side : {protocol::BookSide::bid, protocol::BookSide::ask})
            protocol::copy_levels(book.levels(side), protocol::kMaxBookDepth, before[static_cast<std::size_t>(side)]);
    }
    std::span<const protocol::PriceLevel> before_levels(protocol::BookSide side) const noexcept {
        return before[static_cast<std::size_t>(side)];
    }
};

std::uint64_t BroadcastEngine::feed_epoch(std::uint8_t feed) const noexcept {
    return feed < feeds_.size() ? feeds_[feed]->epoch : 0;
}

void BroadcastEngine::on_epoch(std::uint8_t feed, std::uint64_t epoch) {
    FeedState& f = *feeds_[feed];
    if (epoch == 0 || epoch == f.epoch) return;
    TG_LOG(info, "feed %s: epoch %s (was %s)", f.name.c_str(), protocol::format_epoch(epoch).c_str(),
           protocol::format_epoch(f.epoch).c_str());
    f.epoch = epoch;
    // What the history holds of the feed's topics belongs to the old seq space; a book view's next
    // delta chains from nothing the new source knows. Each topic's next message carries the new
    // epoch, which makes the workers send it as a fresh snapshot (SubscriptionRegistry).
    bool had_topics = false;
    for (auto& [name, e] : topics_) {
        if (e.owner != feed || e.role == TopicRole::room) continue;
        had_topics = true;
        if (history_) history_->reset(e.id, epoch, next_offset_);
        if (e.role == TopicRole::book_source)
            for (auto& view : books_[e.book]->views) {
                view.last_seq = 0;
                if (history_ && view.topic_id != e.id) history_->reset(view.topic_id, epoch, next_offset_);
            }
    }
    // A feed's first epoch (a NATS feed learning its publisher's) changes nothing a client saw.
    if (!had_topics) return;
    std::string json;
    protocol::encode_status(f.name, f.stale ? "stale" : "ok", "epoch changed: seqs start over", json);
    for (Worker* w : workers_) w->post_notice(json);
}

void BroadcastEngine::on_rooms_epoch(std::uint64_t epoch) {
    TG_LOG(info, "rooms: the publisher's epoch %s (was %s)", protocol::format_epoch(epoch).c_str(),
           protocol::format_epoch(rooms_epoch_).c_str());
    rooms_epoch_ = epoch;
    // The publisher's room seqs start over with it: the old last seqs would drop every new message.
    for (auto& [name, e] : topics_) {
        if (e.role != TopicRole::room) continue;
        e.last_seq = 0;
        if (history_) history_->reset(e.id, epoch, next_offset_);
    }
}

std::uint64_t BroadcastEngine::epoch_of(const TopicEntry& e) const noexcept {
    if (e.role == TopicRole::room) return rooms_epoch_;
    return e.owner < feeds_.size() ? feeds_[e.owner]->epoch : 0;
}

void BroadcastEngine::hand_out(Batches& batches, std::uint32_t topic_id, std::uint64_t epoch,
                               const protocol::MarketUpdate& u, std::shared_ptr<Frame> frame, std::uint64_t prev_seq) {
    const std::uint64_t offset = frame ? next_offset_++ : 0;
    for (std::size_t w = 1; w < batches.size(); ++w)
        batches[w]->items.push_back(
            BatchItem{topic_id, u, frame ? std::make_shared<const Frame>(*frame) : nullptr, offset, epoch});
    if (frame && history_) history_->append(topic_id, epoch, u.seq, prev_seq, offset, frame, realtime_ns());
    batches[0]->items.push_back(BatchItem{topic_id, u, std::move(frame), offset, epoch});
}

const BroadcastEngine::TopicEntry* BroadcastEngine::entry_for(const protocol::MarketUpdate& u, Batches& batches) {
    auto it = topics_.find(u.topic());
    if (it != topics_.end()) {
        const TopicEntry& e = it->second;
        const bool fits = e.role == TopicRole::published ? u.kind != protocol::UpdateKind::book
                                                         : e.role == TopicRole::book_source && u.kind == protocol::UpdateKind::book;
        if (e.owner != u.feed || !fits) {
            conflicts_.add();
            return nullptr;
        }
        return &e;
    }
    const bool book = u.kind == protocol::UpdateKind::book;
    const std::string_view symbol = protocol::topic_symbol(u.topic());
    // A source book is book.<SYM>: its views are book.<SYM> and book50.<SYM>, which must be a valid
    // topic too (a symbol of 21 or 22 characters fits the first, not the second).
    const std::string view50 = "book50." + std::string(symbol);
    if (book && (protocol::topic_channel(u.topic()) != "book" || view50.size() > protocol::kMaxTopicLength ||
                 topics_.contains(view50))) {
        conflicts_.add();
        return nullptr;
    }
    // Rooms have a limit of their own (--max-publish-topics): chat never starves market data.
    if (topics_.size() - room_count_.load(std::memory_order_relaxed) + (book ? 2 : 1) > config_.max_topics) {
        topic_limit_drops_.add();
        return nullptr;
    }
    const auto id = static_cast<std::uint32_t>(topic_ids_++);
    TopicEntry entry{id, u.feed};
    if (book) {
        auto source = std::make_unique<BookSource>();
        source->book.set_decimals(u.price_decimals, u.size_decimals);
        const auto id50 = static_cast<std::uint32_t>(topic_ids_++);
        source->views[0] = {id, protocol::kBookViewDepth, std::string(u.topic())};
        source->views[1] = {id50, protocol::kBook50ViewDepth, view50};
        entry.role = TopicRole::book_source;
        entry.book = static_cast<std::uint32_t>(books_.size());
        topics_.emplace(view50, TopicEntry{id50, u.feed, TopicRole::book_view});
        // Announce both views before any message, so every worker creates them in id order and a
        // subscriber gets a snapshot (empty, seq 0) even of a view no change has touched yet.
        for (const auto& view : source->views) {
            protocol::MarketUpdate announce;
            announce.kind = protocol::UpdateKind::book;
            announce.set_topic(view.topic);
            announce.price_decimals = u.price_decimals;
            announce.size_decimals = u.size_decimals;
            hand_out(batches, view.topic_id, feed_epoch(u.feed), announce, nullptr, 0);
        }
        books_.push_back(std::move(source));
    }
    it = topics_.emplace(std::string(u.topic()), entry).first;
    topic_count_.store(topics_.size(), std::memory_order_relaxed);
    return &it->second;
}

void BroadcastEngine::apply_book_fragment(BookSource& b, const protocol::MarketUpdate& u, Batches& batches) {
    const protocol::BookFragment& f = u.book;
    // A fragment without a change open starts one, flagged or not: a lost kBookFirst must not leave
    // the views undiffed. A kBookFirst inside an open change continues it (its levels are applied).
    if (!b.in_change) {
        b.capture_before();
        b.in_change = true;
        if ((f.flags & protocol::kBookFirst) && (f.flags & protocol::kBookReset)) b.book.clear();
    }
    const std::size_t count = std::min<std::size_t>(f.count, protocol::kLevelsPerFragment);
    for (std::size_t i = 0; i < count; ++i) {
        const auto side = (f.ask_mask >> i) & 1 ? protocol::BookSide::ask : protocol::BookSide::bid;
        b.book.apply(side, f.price[i], f.size[i]);
    }
    if (!(f.flags & protocol::kBookLast)) return;
    b.in_change = false;
    // Every view checksums the same first kChecksumDepth levels: one checksum per change.
    const std::uint32_t checksum = b.book.checksum();
    for (auto& view : b.views) {
        auto delta = std::make_shared<BookDelta>();
        protocol::diff_view(protocol::BookSide::bid, b.before_levels(protocol::BookSide::bid),
                            b.book.levels(protocol::BookSide::bid), view.depth, delta->bids);
        protocol::diff_view(protocol::BookSide::ask, b.before_levels(protocol::BookSide::ask),
                            b.book.levels(protocol::BookSide::ask), view.depth, delta->asks);
        if (delta->bids.empty() && delta->asks.empty()) continue;  // a change below this view
        delta->seq = u.seq;
        delta->prev_seq = view.last_seq;
        delta->ts_ns = u.ts_ns;
        delta->checksum = checksum;
        delta->price_decimals = b.book.price_decimals();
        delta->size_decimals = b.book.size_decimals();
        delta->set_topic(view.topic);
        view.last_seq = u.seq;
        protocol::MarketUpdate header;
        header.kind = protocol::UpdateKind::book;
        header.set_topic(view.topic);
        header.seq = u.seq;
        header.ts_ns = u.ts_ns;
        header.price_decimals = delta->price_decimals;
        header.size_decimals = delta->size_decimals;
        const std::uint64_t prev_seq = delta->prev_seq;
        hand_out(batches, view.topic_id, feed_epoch(u.feed), header, frames::book_delta(std::move(delta), view.topic_id),
                 prev_seq);
    }
}

void BroadcastEngine::publish(const protocol::MarketUpdate* updates, std::size_t n) {
    // One batch per worker, each with its own copy of every frame: a frame's reference count is then
    // touched by one thread only, instead of bouncing between cores once per subscriber.
    Batches batches(workers_.size());
    for (auto& b : batches) {
        b = std::make_shared<UpdateBatch>();
        b->items.reserve(n);
    }
    const auto now = realtime_ns();
    // The engine runs on worker 0's thread, so worker 0's stats are its to write.
    runtime::LatencyHistogram& ring_latency = workers_.front()->stats().stage(LatencyStage::ring);
    for (std::size_t i = 0; i < n; ++i) {
        const protocol::MarketUpdate& u = updates[i];
        if (u.feed >= feeds_.size()) continue;
        FeedState& feed = *feeds_[u.feed];
        if (u.kind == protocol::UpdateKind::epoch) {
            // What came before it goes out first, so that a worker sees the old epoch's last
            // messages, then the change (its status), then the new epoch's.
            if (!batches[0]->items.empty()) {
                post_batches(batches);
                for (auto& b : batches) {
                    b = std::make_shared<UpdateBatch>();
                    b->items.reserve(n - i);
                }
            }
            on_epoch(u.feed, u.seq);
            continue;
        }
        feed.last_update_ns.store(now, std::memory_order_relaxed);
        feed.updates.add();
        ring_latency.observe_ns(now - u.ts_ns);
        const TopicEntry* entry = entry_for(u, batches);
        if (!entry) continue;
        if (entry->role == TopicRole::book_source) {
            apply_book_fragment(*books_[entry->book], u, batches);
            continue;
        }
        hand_out(batches, entry->id, epoch_of(*entry), u, frames::live_update(u, entry->id), u.seq - 1);
        // Only tickers may be skipped by a lagging worker (see Worker::on_batch).
        if (u.kind == protocol::UpdateKind::ticker) newest_.publish(entry->id, u.seq);
    }
    if (batches[0]->items.empty()) return;
    post_batches(batches);
}

void BroadcastEngine::post_batches(Batches& batches) {
    const std::int64_t now = realtime_ns();
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        batches[w]->handed_out_ns = now;
        workers_[w]->post_batch(std::move(batches[w]));
    }
}

std::string_view published_result_name(PublishedResult r) noexcept {
    switch (r) {
    case PublishedResult::delivered: return "delivered";
    case PublishedResult::rate_limited: return "rate_limited";
    case PublishedResult::too_many_topics: return "too_many_topics";
    case PublishedResult::unavailable: return "unavailable";
    case PublishedResult::stale: return "stale";
    case PublishedResult::dropped: return "dropped";
    case PublishedResult::count_: break;
    }
    return "dropped";
}

void BroadcastEngine::submit_publish(protocol::PublishedMessage m, std::function<void(PublishResult)> done) {
    asio::post(workers_.front()->io(),
               [this, m = std::move(m), done = std::move(done)]() mutable { on_submit(std::move(m), std::move(done)); });
}

void BroadcastEngine::deliver_published(protocol::PublishedMessage m) {
    asio::post(workers_.front()->io(), [this, m = std::move(m)]() mutable { on_sequenced(std::move(m)); });
}

bool BroadcastEngine::accepting() const noexcept { return loop_ && !loop_->stopped; }

bool BroadcastEngine::take_rate_token(std::string_view channel, std::int64_t now_ns) {
    const double rate = config_.publish_rate;
    auto it = publish_rates_.find(std::string(channel));
    if (it == publish_rates_.end()) it = publish_rates_.emplace(std::string(channel), RateBucket{rate, now_ns}).first;
    RateBucket& b = it->second;
    // A burst of one second's worth, refilled continuously.
    b.tokens = std::min(rate, b.tokens + static_cast<double>(now_ns - b.refilled_ns) * rate / 1e9);
    b.refilled_ns = now_ns;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
}

BroadcastEngine::TopicEntry* BroadcastEngine::room_for(std::string_view topic, bool create) {
    if (auto it = topics_.find(topic); it != topics_.end())
        return it->second.role == TopicRole::room ? &it->second : nullptr;
    if (!create || room_count_.load(std::memory_order_relaxed) >= config_.max_publish_topics) return nullptr;
    TopicEntry entry{static_cast<std::uint32_t>(topic_ids_++), 0, TopicRole::room};
    auto* room = &topics_.emplace(std::string(topic), entry).first->second;
    room_count_.store(room_count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    topic_count_.store(topics_.size(), std::memory_order_relaxed);
    return room;
}

void BroadcastEngine::on_submit(protocol::PublishedMessage m, std::function<void(PublishResult)> done) {
    // `counted` is unset for a caller's mistake (the session checks what a client may publish to).
    const auto refuse = [&](std::optional<PublishedResult> counted, protocol::ErrorCode code, std::string message) {
        if (counted) count(*counted);
        done(PublishResult{0, code, std::move(message)});
    };
    const std::string_view channel = protocol::topic_channel(m.topic);
    if (!protocol::is_room_topic(m.topic) || !config_.publishable(channel))
        return refuse(std::nullopt, protocol::ErrorCode::forbidden, "not a room of a publishable channel");
    if (!accepting()) return refuse(PublishedResult::unavailable, protocol::ErrorCode::unavailable, "shutting down");
    if (!take_rate_token(channel, realtime_ns()))
        return refuse(PublishedResult::rate_limited, protocol::ErrorCode::rate_limited,
                      "more than " + std::to_string(config_.publish_rate) + " messages per second on channel '" +
                          std::string(channel) + "' (all clients)");
    // A room this gateway cannot hold is refused before anything is sequenced, on the bus too.
    const auto it = topics_.find(m.topic);
    if (it != topics_.end() && it->second.role != TopicRole::room)
        return refuse(std::nullopt, protocol::ErrorCode::forbidden, "a market-data topic, not a room");
    if (it == topics_.end() && room_count_.load(std::memory_order_relaxed) >= config_.max_publish_topics)
        return refuse(PublishedResult::too_many_topics, protocol::ErrorCode::too_many_topics,
                      "at most " + std::to_string(config_.max_publish_topics) + " rooms (--max-publish-topics)");
    m.seq = 0;
    if (bus_) {
        // The publisher sequences it for every gateway; the message comes back through the sink.
        asio::io_context& io = workers_.front()->io();
        bus_->forward_publish(std::move(m), [this, &io, done = std::move(done)](feeds::MessageBus::PublishOutcome o) mutable {
            asio::post(io, [this, o = std::move(o), done = std::move(done)] {
                if (o.error.empty()) return done(PublishResult{o.seq, std::nullopt, {}});
                count(PublishedResult::unavailable);
                done(PublishResult{0, protocol::ErrorCode::unavailable, "publisher: " + o.error});
            });
        });
        return;
    }
    TopicEntry& room = *room_for(m.topic, true);  // exists, or there is room for it (checked above)
    m.seq = ++room.last_seq;
    m.ts_ns = realtime_ns();
    deliver_room(room, m);
    done(PublishResult{m.seq, std::nullopt, {}});
}

void BroadcastEngine::on_sequenced(protocol::PublishedMessage m) {
    // Every gateway's messages come here, this one's own included; some may be for rooms this
    // gateway does not serve.
    if (!protocol::is_room_topic(m.topic) || !config_.publishable(protocol::topic_channel(m.topic)))
        return count(PublishedResult::dropped);
    TopicEntry* room = room_for(m.topic, true);
    if (!room) return count(PublishedResult::dropped);
    // Rooms sequenced by the publisher are in its epoch; the messages say which, in order with
    // the messages themselves (the ring's epoch record travels another road).
    if (m.epoch != 0 && m.epoch != rooms_epoch_) on_rooms_epoch(m.epoch);
    // In seq order per topic from the bus; what is not above the last (a redelivery) is dropped.
    if (m.seq <= room->last_seq) return count(PublishedResult::stale);
    room->last_seq = m.seq;
    deliver_room(*room, m);
}

void BroadcastEngine::deliver_room(const TopicEntry& room, const protocol::PublishedMessage& m) {
    Batches batches(workers_.size());
    for (auto& b : batches) b = std::make_shared<UpdateBatch>();
    // What a worker keeps of the message: its kind and topic (a topic's first item creates it), seq
    // and ts; the message itself is the frame.
    protocol::MarketUpdate header;
    header.kind = protocol::UpdateKind::published;
    header.set_topic(m.topic);
    header.seq = m.seq;
    header.ts_ns = m.ts_ns;
    hand_out(batches, room.id, epoch_of(room), header, frames::published_message(m, room.id), m.seq - 1);
    post_batches(batches);
    count(PublishedResult::delivered);
}

void BroadcastEngine::check_freshness(std::int64_t now_ns) {
    const std::int64_t stale_ns = static_cast<std::int64_t>(config_.stale_ms) * 1'000'000;
    for (auto& feed : feeds_) {
        const auto last = feed->last_update_ns.load(std::memory_order_relaxed);
        const auto age = now_ns - (last != 0 ? last : started_ns_);
        bool down = false;
        if (const feeds::UpstreamStats* up = feed->upstream) {
            // Before the first connection there was no drop: the start keeps its --stale-ms grace.
            const auto drops = up->disconnects.load(std::memory_order_relaxed);
            down = drops > 0 && !up->connected.load(std::memory_order_acquire);
            // A drop counted since the last check: stale now, even if the reconnect was quicker
            // than the check, and fresh only once an update arrives after it.
            if (drops != feed->disconnects_seen || down) {
                feed->disconnects_seen = drops;
                feed->awaiting_since_ns = now_ns;
            } else if (feed->awaiting_since_ns != 0 && last > feed->awaiting_since_ns) {
                feed->awaiting_since_ns = 0;
            }
        }
        const bool held = down || feed->awaiting_since_ns != 0;
        feed->upstream_stale.store(held, std::memory_order_relaxed);
        const bool stale = held || age >= stale_ns;
        if (stale == feed->stale) continue;
        feed->stale = stale;
        const std::string message = !stale ? "updates flowing again"
                                    : held ? "upstream disconnected"
                                           : "no update for " + std::to_string(age / 1'000'000) + " ms";
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
        // The connection itself, not only the last check: /healthz turns 503 the moment it drops.
        const feeds::UpstreamStats* up = feed->upstream;
        const bool down = up && up->disconnects.load(std::memory_order_relaxed) > 0 &&
                          !up->connected.load(std::memory_order_acquire);
        const bool fresh = age < stale_ns && !down && !feed->upstream_stale.load(std::memory_order_relaxed);
        out.push_back(FeedHealth{feed->name, fresh, age / 1'000'000, feed->updates.get()});
    }
    return out;
}

}  // namespace tickgate::gateway
