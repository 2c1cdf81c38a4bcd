#include "bench/load/worker.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <cmath>

#include "bench/load/connection.hpp"

namespace tickgate::load {
namespace {

using boost::system::error_code;
constexpr auto kPublishEvery = std::chrono::milliseconds(200);
constexpr auto kLaunchTick = std::chrono::milliseconds(2);
constexpr auto kStopGrace = std::chrono::milliseconds(1500);  // close frames out, replies in

}  // namespace

Worker::Worker(RunContext& run, unsigned index, unsigned workers)
    : run_(run), index_(index), workers_(workers), launch_timer_(io_), publish_timer_(io_), stop_timer_(io_) {
    // Connection i belongs to worker i % workers: consecutive connections land on different threads.
    for (std::size_t i = index; i < run.options.connections; i += workers) global_index_.push_back(i);
    slots_.resize(global_index_.size());
}

Worker::~Worker() = default;

void Worker::start() {
    launch_start_ = std::chrono::steady_clock::now();
    boost::asio::post(io_, [this] { launch_due(); });
    schedule_publish();
}

void Worker::run() {
    tid_ = static_cast<int>(::syscall(SYS_gettid));
    io_.run();
}

void Worker::launch_due() {
    if (run_.stopping.load()) return;
    // Each worker paces its own share: rate / workers connections per second.
    const double rate = run_.options.connect_rate / workers_;
    std::size_t due = slots_.size();
    if (rate > 0) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - launch_start_).count();
        due = std::min(due, static_cast<std::size_t>(std::floor(elapsed * rate)) + 1);
    }
    while (launched_ < due) launch(launched_++);
    if (launched_ < slots_.size()) {
        launch_timer_.expires_after(kLaunchTick);
        launch_timer_.async_wait([this](error_code ec) {
            if (!ec) launch_due();
        });
    }
}

void Worker::launch(std::size_t slot) {
    auto connection = make_connection(*this, slot, global_index_[slot]);
    slots_[slot] = connection;
    connection->start();  // may fail at once and empty the slot; `connection` keeps it alive meanwhile
}

void Worker::on_connection_done(std::size_t slot, bool was_open) {
    if (slot >= slots_.size()) return;
    auto done = std::move(slots_[slot]);  // keeps it alive until this handler returns
    if (run_.options.churn && !run_.stopping.load()) {
        // Churn keeps the slot busy: the next cycle starts at once (a failure waits a little, so
        // a server that refuses does not turn this into a busy loop).
        if (was_open) {
            boost::asio::post(io_, [this, slot] {
                if (!run_.stopping.load() && !slots_[slot]) launch(slot);
            });
            return;
        }
        auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(10));
        timer->async_wait([this, slot, timer](error_code ec) {
            if (!ec && !run_.stopping.load() && !slots_[slot]) launch(slot);
        });
    }
}

void Worker::schedule_publish() {
    publish_timer_.expires_after(kPublishEvery);
    publish_timer_.async_wait([this](error_code ec) {
        if (ec) return;
        publish();
        schedule_publish();
    });
}

void Worker::publish() {
    std::lock_guard lock(published_mutex_);
    published_ = stats_;
}

ThreadStats Worker::snapshot() {
    std::lock_guard lock(published_mutex_);
    return published_;
}

void Worker::stop() {
    boost::asio::post(io_, [this] { close_all(); });
}

void Worker::close_all() {
    if (stopped_) return;
    stopped_ = true;
    launch_timer_.cancel();
    for (const auto& slot : slots_)
        if (auto c = slot) c->shut_down();  // a copy: shutting down may empty the slot
    stop_timer_.expires_after(kStopGrace);
    stop_timer_.async_wait([this](error_code) {
        // Whatever has not finished closing by now is counted as it stands.
        for (auto& c : slots_)
            if (c) c->fold_counts();
        publish_timer_.cancel();
        publish();
        io_.stop();
    });
}

}  // namespace tickgate::load
