#include "bench/load/worker.hpp"

#include <sys/epoll.h>
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
constexpr int kReadyBatch = 256;

}  // namespace

Worker::Worker(RunContext& run, unsigned index, unsigned workers)
    : run_(run), index_(index), workers_(workers), launch_timer_(io_), publish_timer_(io_), stop_timer_(io_),
      ready_set_(io_) {
    if (const int fd = ::epoll_create1(EPOLL_CLOEXEC); fd >= 0) {
        error_code ec;
        ready_set_.assign(fd, ec);
        if (ec) ::close(fd);
    }
    // Connection i belongs to worker i % workers: consecutive connections land on different threads.
    for (std::size_t i = index; i < run.options.connections; i += workers) global_index_.push_back(i);
    slots_.resize(global_index_.size());
}

Worker::~Worker() = default;

void Worker::start() {
    launch_start_ = std::chrono::steady_clock::now();
    boost::asio::post(io_, [this] { launch_due(); });
    schedule_publish();
    wait_ready();
}

bool Worker::watch(int fd, std::size_t slot, std::uint32_t tag) {
    if (!ready_set_.is_open()) return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;  // level-triggered: a socket left with data is reported again
    ev.data.u64 = static_cast<std::uint64_t>(slot) << 32 | tag;
    return ::epoll_ctl(ready_set_.native_handle(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Worker::unwatch(int fd) {
    if (ready_set_.is_open()) ::epoll_ctl(ready_set_.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
}

void Worker::wait_ready() {
    if (!ready_set_.is_open()) return;
    ready_set_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](error_code ec) {
        if (ec) return;
        dispatch_ready();
        wait_ready();
    });
}

void Worker::dispatch_ready() {
    epoll_event events[kReadyBatch];
    const int n = ::epoll_wait(ready_set_.native_handle(), events, kReadyBatch, 0);
    for (int i = 0; i < n; ++i) {
        const std::size_t slot = events[i].data.u64 >> 32;
        const auto tag = static_cast<std::uint32_t>(events[i].data.u64);
        if (slot >= slots_.size()) continue;
        // A copy: the connection may finish (and leave its slot) while it reads. An event for a
        // connection that finished earlier in this batch finds the slot empty or re-tagged.
        if (auto c = slots_[slot]; c && c->watch_tag() == tag) c->on_readable();
    }
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

void Worker::drain() {
    boost::asio::post(io_, [this] {
        for (const auto& slot : slots_)
            if (auto c = slot) c->on_drain();  // a copy: reading may end the connection
    });
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
