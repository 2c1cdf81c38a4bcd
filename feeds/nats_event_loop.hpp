#pragma once
// nats.c driven by an Asio io_context (natsOptions_SetEventLoop), the way its libuv and libevent
// adapters do it: the connection's socket is watched by the io_context's thread, which reads and
// parses there, so a message reaches its consumer on that thread with no hand-off. Without this,
// nats.c reads on a thread of its own and the consumer is woken per message (measured: the main
// part of the NATS ingest cost, bench/README.md). In a burst it reads once per window rather than
// once per message: on this kind of virtual machine a wake-up costs tens of µs, the work of a
// message one or two.
//
// nats.c calls the adapter's hooks from any of its threads (connect, reconnect, the ping timer,
// close), some with its connection lock held: each hook only posts to the io_context. The socket
// belongs to nats.c, which closes it itself; the adapter never does.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

struct __natsConnection;
struct __natsOptions;

namespace tickgate::feeds {

class NatsEventLoop {
public:
    /// after_read runs on the io_context's thread after every read: where the consumer takes
    /// what was parsed. It returns whether there was anything (what the read coalescing keys on).
    /// coalesce: in a burst, at most one read per this long (0: every readiness at once).
    NatsEventLoop(boost::asio::io_context& io, std::chrono::microseconds coalesce, std::function<bool()> after_read);
    ~NatsEventLoop();
    NatsEventLoop(const NatsEventLoop&) = delete;
    NatsEventLoop& operator=(const NatsEventLoop&) = delete;

    /// The io_context's thread: a new coalescing window (0: every readiness at once), from the
    /// next read on.
    void set_coalesce(std::chrono::microseconds coalesce) noexcept { coalesce_ = coalesce; }

    /// The io_context's thread, once its connections are closed: cancels the loop's waits, so that
    /// when their cancellations have run the io_context holds nothing of the loop and it may be
    /// destroyed while the io_context goes on (a loop hosted on a gateway worker's).
    void quiesce();

    /// Makes connections created with `opts` run on this loop (a natsStatus). The loop must
    /// outlive them, and its io_context must run until they are closed.
    int install(__natsOptions* opts);

    /// While one lives on a thread, what that thread publishes is only buffered by nats.c (the
    /// loop thread is not woken for it), and flush() or the end of the scope writes it from that
    /// thread: one write() for everything published in between. The publisher batches its
    /// writes this way. One per thread at a time.
    class WriteBatch {
    public:
        explicit WriteBatch(NatsEventLoop& loop) noexcept;
        ~WriteBatch();
        WriteBatch(const WriteBatch&) = delete;
        WriteBatch& operator=(const WriteBatch&) = delete;
        /// Writes what was buffered since the last flush, here. A socket that takes only part of
        /// it gets the rest from the loop thread, once writable.
        void flush();

    private:
        NatsEventLoop& loop_;
    };

private:
    struct Hooks;  // the four natsEvLoop_* functions nats.c calls

    // The io_context's thread only.
    void adopt(__natsConnection* nc, int fd, std::uint64_t generation);
    void drop();
    void read_ready(std::uint64_t generation);
    void write_ready(std::uint64_t generation);
    void flush_deferred();
    /// Any thread: nats.c's buffered output written once, if any is left (false: none, or the
    /// socket is no longer the one of `generation`).
    bool write_pending(std::uint64_t generation);
    /// Under mutex_: whether the adopted socket is still the one nats.c watches (it may be out of
    /// the reactor for a moment, see the read coalescing), and whether it is in the reactor too.
    bool live_locked() const noexcept { return watching_ && !closed_ && socket_generation_ == generation_; }
    bool current_locked() const noexcept { return socket_ && live_locked(); }
    bool watch_locked();  // socket_fd_ into the reactor as socket_
    void arm_read_locked();
    void arm_write_locked();
    void park_until_locked(std::chrono::steady_clock::time_point due);

    boost::asio::io_context& io_;
    std::function<bool()> after_read_;
    // Hooks see `generation_` under the mutex: a socket's events stop counting the moment nats.c
    // says it stops watching it, before the posted drop has run (nats.c may close it at once).
    std::mutex mutex_;
    // Held across a write into nats.c (taken before nats.c's lock, and never inside a hook).
    std::mutex write_mutex_;
    std::uint64_t generation_ = 0;
    bool watching_ = false;
    bool write_wanted_ = false;
    bool write_deferred_ = false;  // wanted while a WriteBatch was open: its flush() writes
    bool closed_ = false;  // detached: nats.c is done with the loop, call nothing of it again
    // The socket and its waits: created and armed under mutex_ (so nats.c cannot close the
    // socket in between), destroyed on the io_context's thread.
    __natsConnection* nc_ = nullptr;
    std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
    int socket_fd_ = -1;
    std::uint64_t socket_generation_ = 0;
    bool read_armed_ = false;
    bool write_armed_ = false;
    // The io_context's thread only: the read coalescing.
    std::chrono::steady_clock::time_point last_took_{};
    bool bursting_ = false;
    std::chrono::microseconds coalesce_;
    boost::asio::steady_timer coalesce_timer_;
};

}  // namespace tickgate::feeds
