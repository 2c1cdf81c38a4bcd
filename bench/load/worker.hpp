#pragma once
// One thread of tickgate-load: an io_context, the connections dealt to it, and its statistics.
// Connections never move between threads, so nothing on the message path is shared or locked.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/stats.hpp"

namespace tickgate::load {

/// Read-only after start, shared by every worker; the atomics are flipped by the main thread.
struct RunContext {
    Options options;
    std::vector<std::string> topics;                     // what --topics or the server's list offered
    std::vector<std::vector<std::uint32_t>> choices;     // per connection: indices into topics
    boost::asio::ip::tcp::endpoint server;
    std::vector<boost::asio::ip::address_v4> sources;    // bind addresses; empty: let the kernel pick
    std::shared_ptr<boost::asio::ssl::context> tls;      // null for ws://
    std::string latency_key;  // --latency-from as the scanner searches it ("sent_ns":), or empty: ts
    std::atomic<bool> in_window{false};
    std::atomic<bool> draining{false};  // after the window: stalled clients read (see --slow-drain)
    std::atomic<bool> stopping{false};
};

class Connection;

class Worker {
public:
    Worker(RunContext& run, unsigned index, unsigned workers);
    ~Worker();

    /// Starts paced connection launches; call before running io().
    void start();
    /// Runs the io_context on the calling thread until stop() finishes.
    void run();
    /// From any thread: closes every connection (close 1000, a grace period), then ends run().
    void stop();
    /// From any thread: every connection's on_drain() (after setting RunContext::draining).
    void drain();
    /// From any thread: a copy of the statistics as of the last publish (a few times a second).
    ThreadStats snapshot();
    int tid() const noexcept { return tid_.load(); }

    // For connections (worker thread only).
    boost::asio::io_context& io() noexcept { return io_; }
    RunContext& run_context() noexcept { return run_; }
    ThreadStats& stats() noexcept { return stats_; }
    void on_connection_done(std::size_t slot, bool was_open);
    /// Adds `fd` to the worker's level-triggered readiness set: while it has data, the connection
    /// in `slot` gets on_readable() if its watch_tag() is still `tag`. Closing the fd removes it.
    ///
    /// Why a set of our own: Asio's async_wait re-arms the descriptor with an epoll_ctl() call
    /// every time, a second syscall per wakeup beside the recv() (most wakeups carry one message).
    /// Here each socket is added once, and one Asio wait on the set covers a whole batch.
    bool watch(int fd, std::size_t slot, std::uint32_t tag);
    void unwatch(int fd);
    std::uint32_t next_watch_tag() noexcept { return ++watch_tags_; }
    /// The buffer this thread's connections read into, one at a time, at least `at_least` bytes.
    /// A read drains a socket into it and the connection keeps only the unfinished frame, so idle
    /// connections hold no receive buffer and a busy one takes several records per wakeup.
    std::span<char> receive_buffer(std::size_t at_least) {
        if (receive_buffer_.size() < at_least) receive_buffer_.resize(at_least);
        return receive_buffer_;
    }
    bool logged_error = false;       // print the first server error message only
    int book_faults_logged = 0;      // and the first book fault of up to 5 connections

private:
    void launch_due();
    void launch(std::size_t slot);
    void publish();
    void schedule_publish();
    void close_all();
    void wait_ready();
    void dispatch_ready();

    RunContext& run_;
    unsigned index_, workers_;
    boost::asio::io_context io_;
    boost::asio::steady_timer launch_timer_, publish_timer_, stop_timer_;
    std::vector<std::shared_ptr<Connection>> slots_;  // this worker's share of the connections
    std::vector<std::size_t> global_index_;           // slot -> connection index over all workers
    std::size_t launched_ = 0;
    std::chrono::steady_clock::time_point launch_start_;
    ThreadStats stats_;
    std::vector<char> receive_buffer_ = std::vector<char>(64 * 1024);
    boost::asio::posix::stream_descriptor ready_set_;  // an epoll descriptor (see watch())
    std::uint32_t watch_tags_ = 0;
    std::mutex published_mutex_;
    ThreadStats published_;
    std::atomic<int> tid_{0};
    bool stopped_ = false;
};

}  // namespace tickgate::load
