#include "gateway/fanout/announcements.hpp"

#include <atomic>
#include <memory>

#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"

namespace tickgate::gateway {

void deliver_announcement(std::span<Worker* const> workers, protocol::Announcement a,
                          std::function<void(std::size_t)> done) {
    if (a.ts_ns == 0) a.ts_ns = runtime::realtime_ns();
    struct Tally {
        explicit Tally(std::size_t n) : workers_left(n) {}
        std::atomic<std::size_t> workers_left;
        std::atomic<std::size_t> delivered{0};
        std::function<void(std::size_t)> done;
    };
    auto tally = std::make_shared<Tally>(workers.size());
    tally->done = std::move(done);
    if (workers.empty()) {
        if (tally->done) tally->done(0);
        return;
    }
    const auto frames = std::make_shared<const StatusFrames>(frames::announcement(a));
    for (Worker* w : workers) {
        w->post_announcement(frames, a.topic, [tally](std::size_t n) {
            tally->delivered.fetch_add(n, std::memory_order_relaxed);
            // acq_rel: the last worker sees every other worker's count.
            if (tally->workers_left.fetch_sub(1, std::memory_order_acq_rel) == 1 && tally->done)
                tally->done(tally->delivered.load(std::memory_order_relaxed));
        });
    }
}

}  // namespace tickgate::gateway
