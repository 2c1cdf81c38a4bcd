// What one send() on a loopback TCP connection costs the sender, in its own thread's CPU time.
// On loopback the sender's send() also runs the receiver's TCP input (softirq) and wakes the
// receiving thread, so this is the floor under a fan-out server's CPU per message on one machine
// when every message is its own write, whatever the server does in user space.
//
//   Send/B/R: bursts of 100 sends of B bytes (256 connections in turn), 0.5 ms apart, time per
//             send in the sending thread's CPU time; R = 0: the receiving thread sleeps
//             in epoll_wait between bursts (a client process that is not busy); R = 1: it polls
//             without sleeping (nothing to wake).
// Per delivered message: B = 300 is one fan-out message per write; B = 3000 is ten coalesced.
//   SendUring/B/R: the same bursts, each as one io_uring submission of 100 sends
//             (io_uring_prep_send, io_uring_submit_and_wait), as the gateway's --io-backend uring
//             batches them; the time per send includes the submission and the reaping.
// Issue 11 took "batching removes ~30 % of a send" from a test of this shape on another machine;
// this pair measures it here, in the same run as the gateway (bench/README.md).
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/thread_cpu_clock.hpp"

namespace {

constexpr int kConnections = 256;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

struct Connections {
    std::vector<int> tx, rx;

    Connections() {
        const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
        check(listener >= 0, "socket");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        check(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
        check(::listen(listener, kConnections) == 0, "listen");
        socklen_t len = sizeof addr;
        check(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
        for (int i = 0; i < kConnections; ++i) {
            const int c = ::socket(AF_INET, SOCK_STREAM, 0);
            check(c >= 0 && ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
            const int s = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
            check(s >= 0, "accept");
            const int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the gateway sets it
            tx.push_back(c);
            rx.push_back(s);
        }
        ::close(listener);
    }
    ~Connections() {
        for (int fd : tx) ::close(fd);
        for (int fd : rx) ::close(fd);
    }
};

/// Reads every connection until told to stop, sleeping in epoll_wait or polling it.
class Receiver {
public:
    Receiver(const std::vector<int>& fds, bool busy_poll) : epoll_(::epoll_create1(0)), stop_(::eventfd(0, 0)) {
        check(epoll_ >= 0 && stop_ >= 0, "epoll/eventfd");
        for (int fd : fds) add(fd);
        add(stop_);
        thread_ = std::thread([this, busy_poll] { run(busy_poll ? 0 : -1); });
    }
    ~Receiver() {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(stop_, &one, sizeof one);
        thread_.join();
        ::close(epoll_);
        ::close(stop_);
    }

private:
    void add(int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        check(::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
    }
    void run(int timeout_ms) {
        std::vector<char> buffer(64 * 1024);
        epoll_event events[64];
        for (;;) {
            const int n = ::epoll_wait(epoll_, events, 64, timeout_ms);
            for (int i = 0; i < n; ++i) {
                if (events[i].data.fd == stop_) return;
                while (::recv(events[i].data.fd, buffer.data(), buffer.size(), 0) > 0) {
                }
            }
        }
    }

    int epoll_, stop_;
    std::thread thread_;
};

void Send(benchmark::State& state) {
    const auto bytes = static_cast<std::size_t>(state.range(0));
    Connections connections;
    Receiver receiver(connections.rx, state.range(1) == 1);
    const std::string message(bytes, 'x');
    std::size_t next = 0;
    for (auto _ : state) {
        const auto start = tickgate::bench::ThreadCpuClock::now();
        // A burst like one update's fan-out: one write per subscriber, then the next update.
        for (int i = 0; i < 100; ++i) {
            const int fd = connections.tx[next];
            next = next + 1 < connections.tx.size() ? next + 1 : 0;
            if (::send(fd, message.data(), message.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(message.size()))
                state.SkipWithError("short send");
        }
        state.SetIterationTime(std::chrono::duration<double>(tickgate::bench::ThreadCpuClock::now() - start).count() / 100);
        // The next update comes later: the receiver drains and, unless it polls, goes to sleep.
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    state.SetItemsProcessed(state.iterations() * 100);
}
// Both take the same bursts: 300 bytes (one message per write) and 3,000 (ten coalesced), to an
// idle and to a polling receiver.
void burst_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"bytes", "busy_receiver"})
        ->Args({300, 0})
        ->Args({300, 1})
        ->Args({3000, 0})
        ->Args({3000, 1})
        ->Iterations(2000)  // 200,000 sends, about a second of bursts
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
}
BENCHMARK(Send)->Apply(burst_args);

void SendUring(benchmark::State& state) {
    const auto bytes = static_cast<std::size_t>(state.range(0));
    Connections connections;
    Receiver receiver(connections.rx, state.range(1) == 1);
    const std::string message(bytes, 'x');
    io_uring ring;
    if (const int r = io_uring_queue_init(128, &ring, 0); r < 0) {
        state.SkipWithError(("io_uring_queue_init: " + std::string(std::strerror(-r))).c_str());
        return;
    }
    std::size_t next = 0;
    for (auto _ : state) {
        const auto start = tickgate::bench::ThreadCpuClock::now();
        for (int i = 0; i < 100; ++i) {
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            if (!sqe) {
                state.SkipWithError("no free submission entry");
                break;
            }
            io_uring_prep_send(sqe, connections.tx[next], message.data(), message.size(), MSG_NOSIGNAL);
            next = next + 1 < connections.tx.size() ? next + 1 : 0;
        }
        if (const int r = io_uring_submit_and_wait(&ring, 100); r < 0) {
            state.SkipWithError(("io_uring_submit_and_wait: " + std::string(std::strerror(-r))).c_str());
            break;
        }
        // Every completion of the burst is reaped inside its own timing.
        for (unsigned reaped = 0; reaped < 100;) {
            io_uring_cqe* cqe = nullptr;
            if (io_uring_wait_cqe(&ring, &cqe) < 0) {
                state.SkipWithError("io_uring_wait_cqe");
                break;
            }
            if (cqe->res != static_cast<int>(message.size())) state.SkipWithError("short send");
            io_uring_cqe_seen(&ring, cqe);
            ++reaped;
        }
        state.SetIterationTime(std::chrono::duration<double>(tickgate::bench::ThreadCpuClock::now() - start).count() / 100);
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    io_uring_queue_exit(&ring);
    state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(SendUring)->Apply(burst_args);

}  // namespace
