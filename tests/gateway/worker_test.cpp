#include "gateway/fanout/worker.hpp"

#include <gtest/gtest.h>

#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "gateway/session/polling_directory.hpp"
#include "gateway/session/session.hpp"
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway {
namespace {

// Counts its flushes; writes nothing.
class FlushCountingSession final : public Session {
public:
    FlushCountingSession(Worker& worker, std::string peer)
        : Session(worker, session_test::no_polling, std::move(peer), Wire::v1) {}
    void flush() override { ++flushes; }
    void on_closing() override {}
    int flushes = 0;
};

FramePtr frame_for(std::uint32_t id, std::uint64_t seq) {
    auto f = std::make_shared<Frame>();
    f->storage = "[" + std::to_string(id) + ":" + std::to_string(seq) + "]";
    f->topic_id = id;
    return f;
}

// The worker measures lag against the wall clock, as feeds stamp ts_ns on the wall clock.
using runtime::realtime_ns;

// Well past the worker's 250 ms "behind" threshold, and well short of it: neither lands near the
// edge on a slow machine.
constexpr std::int64_t kLongAgoNs = 2'000'000'000;

// By default the update is fresh (stamped now), as a feed's updates are when the worker keeps up.
BatchItem item(std::uint32_t id, std::string_view topic, std::uint64_t seq, std::int64_t ts_ns = realtime_ns()) {
    BatchItem i;
    i.topic_id = id;
    i.update.set_topic(topic);
    i.update.seq = seq;
    i.update.ts_ns = ts_ns;
    i.frame = frame_for(id, seq);
    return i;
}

class WorkerTest : public ::testing::Test {
protected:
    Config config;
    NewestSeqTable newest{16};
    Worker worker{0, config, &newest};
    std::shared_ptr<FlushCountingSession> session = std::make_shared<FlushCountingSession>(worker, "127.0.0.1:1");

    void SetUp() override {
        worker.attach(session);
        // Topics appear with the first batch; subscribe to a pattern so they are covered.
        worker.registry().subscribe(*session, std::vector<std::string>{"ticker.*"}, 10);
    }
    void run(std::vector<BatchItem> items) {
        auto batch = std::make_shared<UpdateBatch>();
        batch->items = std::move(items);
        worker.post_batch(batch);
        worker.io().restart();
        worker.io().poll();
    }
    std::string drain() {
        std::string out;
        session->queue().take(out);
        return out;
    }
};

TEST_F(WorkerTest, FansOutABatchAndFlushesEachDirtySessionOnce) {
    newest.publish(0, 1);
    newest.publish(1, 1);
    run({item(0, "ticker.BTC-USD", 1), item(1, "ticker.ETH-USD", 1)});
    EXPECT_EQ(drain(), "[0:1][1:1]");
    EXPECT_EQ(session->flushes, 1);
    EXPECT_EQ(worker.pending_batches(), 0u);
}

TEST_F(WorkerTest, ABehindWorkerSkipsUpdatesAlreadySupersededButKeepsTheLatestValue) {
    // The engine has already handed out seq 3 of topic 0, and seq 1 and 2 are two seconds old:
    // the worker is behind, so they are stale for live delivery.
    newest.publish(0, 3);
    const auto old_ts = realtime_ns() - kLongAgoNs;
    run({item(0, "ticker.BTC-USD", 1, old_ts), item(0, "ticker.BTC-USD", 2, old_ts)});
    EXPECT_EQ(drain(), "");
    EXPECT_EQ(worker.stats().updates_skipped_behind.get(), 2u);
    EXPECT_EQ(worker.registry().topic(0).latest.seq, 2u);
    run({item(0, "ticker.BTC-USD", 3, old_ts)});
    EXPECT_EQ(drain(), "[0:3]");  // the newest is never superseded, however late
}

TEST_F(WorkerTest, AWorkerThatKeepsUpDeliversEveryUpdateEvenWhenNewerOnesAreQueued) {
    // Newer seqs already handed out is the normal state of a pipelined gateway; without real lag
    // the worker must not turn that into gaps for its clients.
    newest.publish(0, 3);
    run({item(0, "ticker.BTC-USD", 1), item(0, "ticker.BTC-USD", 2), item(0, "ticker.BTC-USD", 3)});
    EXPECT_EQ(drain(), "[0:1][0:2][0:3]");
    EXPECT_EQ(worker.stats().updates_skipped_behind.get(), 0u);
}

TEST_F(WorkerTest, ABehindWorkerSkipsOnlyTheSupersededUpdatesOfABatch) {
    // Topic 0 has a newer seq queued, topic 1 does not: lag alone is no reason to skip.
    newest.publish(0, 2);
    newest.publish(1, 1);
    const auto old_ts = realtime_ns() - kLongAgoNs;
    run({item(0, "ticker.BTC-USD", 1, old_ts), item(1, "ticker.ETH-USD", 1, old_ts),
         item(0, "ticker.BTC-USD", 2, old_ts)});
    EXPECT_EQ(drain(), "[1:1][0:2]");
    EXPECT_EQ(worker.stats().updates_skipped_behind.get(), 1u);
}

TEST_F(WorkerTest, TheBehindThresholdIsTheOperatorsAndZeroNeverSkips) {
    // Two seconds of lag: behind by the default quarter second, not by --behind-skip-ms 5000, and
    // never with 0.
    for (const std::uint32_t behind_skip_ms : {5000u, 0u}) {
        Config c;
        c.behind_skip_ms = behind_skip_ms;
        Worker w(0, c, &newest);
        auto s = std::make_shared<FlushCountingSession>(w, "127.0.0.1:2");
        w.attach(s);
        w.registry().subscribe(*s, std::vector<std::string>{"ticker.*"}, 10);
        newest.publish(0, 3);
        const auto old_ts = realtime_ns() - kLongAgoNs;
        auto batch = std::make_shared<UpdateBatch>();
        batch->items = {item(0, "ticker.BTC-USD", 1, old_ts), item(0, "ticker.BTC-USD", 2, old_ts)};
        w.post_batch(batch);
        w.io().poll();
        std::string out;
        s->queue().take(out);
        EXPECT_EQ(out, "[0:1][0:2]") << "--behind-skip-ms " << behind_skip_ms;
        EXPECT_EQ(w.stats().updates_skipped_behind.get(), 0u) << "--behind-skip-ms " << behind_skip_ms;
    }
}

TEST_F(WorkerTest, ClosesASessionWhoseQueueOverflowsAsASlowConsumer) {
    Config small;
    small.max_queue_bytes = 16;
    Worker w(0, small, &newest);
    auto s = std::make_shared<FlushCountingSession>(w, "127.0.0.1:2");
    w.attach(s);
    w.registry().subscribe(*s, std::vector<std::string>{"ticker.*"}, 10);
    auto batch = std::make_shared<UpdateBatch>();
    for (std::uint32_t id = 0; id < 8; ++id) {
        const std::string topic = "ticker.S" + std::to_string(id) + "-USD";
        batch->items.push_back(item(id, topic, 1));
    }
    w.post_batch(batch);
    w.io().poll();
    EXPECT_FALSE(s->is_open());
    EXPECT_EQ(w.stats().slow_consumer_disconnects.get(), 1u);
}

}  // namespace
}  // namespace tickgate::gateway

namespace tickgate::gateway {
namespace {

TEST_F(WorkerTest, ABusyWorkerGathersQueuedBatchesIntoOneFlush) {
    const char* topics[] = {"ticker.BTC-USD", "ticker.ETH-USD", "ticker.SOL-USD"};
    for (std::uint32_t id = 0; id < 3; ++id) {
        newest.publish(id, 1);
        auto batch = std::make_shared<UpdateBatch>();
        batch->items.push_back(item(id, topics[id], 1));
        worker.post_batch(batch);  // all three queued before the worker runs
    }
    worker.io().restart();
    worker.io().poll();
    EXPECT_EQ(session->flushes, 1);
    EXPECT_EQ(drain(), "[0:1][1:1][2:1]");
}

}  // namespace
}  // namespace tickgate::gateway

namespace tickgate::gateway {
namespace {

TEST_F(WorkerTest, ASessionThatEndsWhileADeferredFlushIsPendingLeavesTheDirtyList) {
    // Two batches queued: the first is gathered (flush deferred), then the session ends before
    // the second batch flushes. It must not be flushed after it is gone.
    auto other = std::make_shared<FlushCountingSession>(worker, "127.0.0.1:3");
    worker.attach(other);
    worker.registry().subscribe(*other, std::vector<std::string>{"ticker.*"}, 10);
    const char* topics[] = {"ticker.BTC-USD", "ticker.ETH-USD"};
    for (std::uint32_t id = 0; id < 2; ++id) {
        newest.publish(id, 1);
        auto batch = std::make_shared<UpdateBatch>();
        batch->items.push_back(item(id, topics[id], 1));
        worker.post_batch(batch);
    }
    worker.io().restart();
    worker.io().run_one();  // first batch: other is dirty, flush deferred
    ASSERT_TRUE(other->membership().dirty);
    FlushCountingSession* raw = other.get();
    worker.detach(*raw);
    EXPECT_FALSE(raw->membership().dirty);
    other.reset();  // freed now; ASan would catch a later flush of it
    worker.io().poll();
    EXPECT_EQ(session->flushes, 1);
}

// A worker other than the engine's with no session is not woken for batches: they wait, in order,
// until a session attaches (or 128 have gathered), and that session sees them as if they had run.
std::shared_ptr<UpdateBatch> batch_of(std::uint32_t id, std::string_view topic, std::uint64_t seq) {
    auto batch = std::make_shared<UpdateBatch>();
    batch->items.push_back(item(id, topic, seq));
    return batch;
}

TEST(IdleWorker, BatchesWaitWithoutWakingItAndASessionThatAttachesSeesThemAll) {
    Config config;
    Worker worker{1, config};
    for (std::uint64_t seq = 1; seq <= 3; ++seq) worker.post_batch(batch_of(0, "ticker.BTC-USD", seq));
    EXPECT_EQ(worker.io().poll(), 0u) << "a worker without sessions was woken for a batch";
    EXPECT_EQ(worker.pending_batches(), 3u);

    auto session = std::make_shared<FlushCountingSession>(worker, "127.0.0.1:4");
    worker.attach(session);
    EXPECT_EQ(worker.pending_batches(), 0u);
    const auto id = worker.registry().find("ticker.BTC-USD");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(worker.registry().topic(*id).latest.seq, 3u);  // what a snapshot now would carry
    worker.registry().subscribe(*session, std::vector<std::string>{"ticker.BTC-USD"}, 10);

    // With a session, every batch wakes the worker and is delivered.
    worker.post_batch(batch_of(0, "ticker.BTC-USD", 4));
    worker.io().restart();
    EXPECT_EQ(worker.io().poll(), 1u);
    std::string out;
    session->queue().take(out);
    EXPECT_EQ(out, "[0:4]");
    worker.detach(*session);
}

TEST(IdleWorker, ReadingTheRegistryNeverRunsAWaitingBatch) {
    // A request reads the registry several times (subscribe, the resume plan, the replay's end)
    // and relies on nothing changing in between: a batch must run in its own handler, not inside
    // a read. (Taking waiting batches in registry() cost resumed clients their missed messages.)
    Config config;
    Worker worker{1, config};
    auto session = std::make_shared<FlushCountingSession>(worker, "127.0.0.1:4");
    worker.attach(session);
    worker.post_batch(batch_of(0, "ticker.BTC-USD", 1));
    EXPECT_FALSE(worker.registry().find("ticker.BTC-USD").has_value()) << "a read ran the batch";
    EXPECT_EQ(worker.pending_batches(), 1u);
    EXPECT_EQ(worker.io().poll(), 1u);
    EXPECT_TRUE(worker.registry().find("ticker.BTC-USD").has_value());

    // A second session attaching does not run it early either: its handler is on its way.
    worker.post_batch(batch_of(0, "ticker.BTC-USD", 2));
    auto second = std::make_shared<FlushCountingSession>(worker, "127.0.0.1:5");
    worker.attach(second);
    EXPECT_EQ(worker.pending_batches(), 1u);
    worker.io().restart();
    EXPECT_EQ(worker.io().poll(), 1u);
    EXPECT_EQ(worker.registry().topic(*worker.registry().find("ticker.BTC-USD")).latest.seq, 2u);
    worker.detach(*second);
    worker.detach(*session);
}

TEST(IdleWorker, AtMost128BatchesWaitBeforeItTakesThem) {
    Config config;
    Worker worker{1, config};
    for (std::uint64_t seq = 1; seq < 128; ++seq) worker.post_batch(batch_of(0, "ticker.BTC-USD", seq));
    EXPECT_EQ(worker.io().poll(), 0u);
    worker.post_batch(batch_of(0, "ticker.BTC-USD", 128));
    worker.io().restart();
    EXPECT_EQ(worker.io().poll(), 1u);
    EXPECT_EQ(worker.pending_batches(), 0u) << "the engine stops for a worker with 256 pending";
}

TEST(IdleWorker, TheEnginesWorkerIsNeverLeftWithBatches) {
    Config config;
    Worker worker{0, config};
    worker.post_batch(batch_of(0, "ticker.BTC-USD", 1));
    EXPECT_EQ(worker.io().poll(), 1u);
    EXPECT_EQ(worker.pending_batches(), 0u);
}

}  // namespace
}  // namespace tickgate::gateway
