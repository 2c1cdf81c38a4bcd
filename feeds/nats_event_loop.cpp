#include "feeds/nats_event_loop.hpp"

#include <boost/asio/post.hpp>
#include <nats/nats.h>

#include "feeds/runtime/log.hpp"

namespace tickgate::feeds {
namespace asio = boost::asio;

namespace {
constexpr int kReadBuffer = 256 << 10;
// The loop whose WriteBatch is open on this thread, if any.
thread_local NatsEventLoop* tl_batching = nullptr;
}  // namespace

struct NatsEventLoop::Hooks {
    static natsStatus attach(void** user, void* loop, natsConnection* nc, natsSock fd) {
        auto* self = static_cast<NatsEventLoop*>(loop);
        *user = self;
        std::uint64_t generation;
        {
            std::lock_guard lock(self->mutex_);
            generation = ++self->generation_;
            self->watching_ = true;
            self->write_wanted_ = false;
        }
        asio::post(self->io_, [self, nc, fd, generation] { self->adopt(nc, fd, generation); });
        return NATS_OK;
    }

    // nats.c removes reading only to stop watching the socket, right before it closes it (a
    // disconnect, or the close); it never adds it back but through attach.
    static natsStatus read(void* user, bool add) {
        auto* self = static_cast<NatsEventLoop*>(user);
        if (add) return NATS_OK;
        {
            std::lock_guard lock(self->mutex_);
            self->watching_ = false;
            ++self->generation_;
        }
        asio::post(self->io_, [self] { self->drop(); });
        return NATS_OK;
    }

    // Added when nats.c has buffered output, removed once it is written. The socket is nearly
    // always writable, so the write is tried straight away rather than after a readiness wait.
    static natsStatus write(void* user, bool add) {
        auto* self = static_cast<NatsEventLoop*>(user);
        std::uint64_t generation;
        {
            std::lock_guard lock(self->mutex_);
            self->write_wanted_ = add;
            if (!add) self->write_deferred_ = false;
            if (!add || !self->watching_) return NATS_OK;
            // Published inside a WriteBatch: that thread writes it when it flushes.
            if (tl_batching == self) {
                self->write_deferred_ = true;
                return NATS_OK;
            }
            generation = self->generation_;
        }
        asio::post(self->io_, [self, generation] { self->write_ready(generation); });
        return NATS_OK;
    }

    static natsStatus detach(void* user) {
        auto* self = static_cast<NatsEventLoop*>(user);
        {
            std::lock_guard lock(self->mutex_);
            self->closed_ = true;
            self->watching_ = false;
            ++self->generation_;
        }
        asio::post(self->io_, [self] { self->drop(); });
        return NATS_OK;
    }
};

NatsEventLoop::NatsEventLoop(asio::io_context& io, std::chrono::microseconds coalesce, std::function<bool()> after_read)
    : io_(io), after_read_(std::move(after_read)), coalesce_(coalesce), coalesce_timer_(io) {}

NatsEventLoop::~NatsEventLoop() {
    // The descriptor is nats.c's: released, never closed.
    if (socket_) socket_->release();
}

void NatsEventLoop::quiesce() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    watching_ = false;
    coalesce_timer_.cancel();
    if (socket_) socket_->release();
    socket_.reset();
    read_armed_ = write_armed_ = false;
}

int NatsEventLoop::install(natsOptions* opts) {
    // One read per readiness (or per window in a burst): a larger buffer than nats.c's 32 KiB
    // default keeps that from capping the rate (256 KiB per 0.5 ms is 500 MB/s).
    natsStatus s = natsOptions_SetIOBufSize(opts, kReadBuffer);
    if (s == NATS_OK) s = natsOptions_SetEventLoop(opts, this, Hooks::attach, Hooks::read, Hooks::write, Hooks::detach);
    return s;
}

NatsEventLoop::WriteBatch::WriteBatch(NatsEventLoop& loop) noexcept : loop_(loop) { tl_batching = &loop; }

NatsEventLoop::WriteBatch::~WriteBatch() {
    tl_batching = nullptr;
    loop_.flush_deferred();
}

void NatsEventLoop::WriteBatch::flush() { loop_.flush_deferred(); }

void NatsEventLoop::flush_deferred() {
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        if (!write_deferred_) return;
        write_deferred_ = false;
        if (!write_wanted_) return;
        generation = generation_;
        // Not adopted yet (a connect or reconnect under way): the loop thread writes once it is.
        if (!live_locked() || !nc_ || socket_generation_ != generation_) {
            asio::post(io_, [this, generation] { write_ready(generation); });
            return;
        }
    }
    write_pending(generation);
    std::lock_guard lock(mutex_);
    if (write_wanted_ && generation == generation_) asio::post(io_, [this, generation] { write_ready(generation); });
}

bool NatsEventLoop::write_pending(std::uint64_t generation) {
    // Two threads write (this one and the loop thread, which the ping timer's PINGs and the
    // replies to the server's PINGs reach). Each checks that there is something left only under
    // write_mutex_: nats.c's write of an empty buffer is a send() of 0 bytes, which returns 0, and
    // nats.c takes a 0 for a closed connection. That reconnected the publisher every minute or two
    // at 10,000 updates/s, each time ~150 ms of updates late (bench/README.md, issue 12).
    std::lock_guard writing(write_mutex_);
    natsConnection* nc;
    {
        std::lock_guard lock(mutex_);
        if (!live_locked() || generation != socket_generation_ || !write_wanted_) return false;
        nc = nc_;
    }
    // Outside mutex_: nats.c calls the write hook from in here (under its own lock, which makes
    // this safe beside the loop thread's reads).
    natsConnection_ProcessWriteEvent(nc);
    return true;
}

void NatsEventLoop::adopt(natsConnection* nc, int fd, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_ || !watching_ || closed_) return;  // already stopped: fd may be gone
    if (socket_) socket_->release();
    socket_.reset();
    read_armed_ = write_armed_ = false;
    nc_ = nc;
    socket_fd_ = fd;
    socket_generation_ = generation;
    // Under the lock: nats.c cannot close fd before the reactor has it.
    if (!watch_locked()) return;
    arm_read_locked();
    if (write_wanted_) asio::post(io_, [this, generation] { write_ready(generation); });
}

bool NatsEventLoop::watch_locked() {
    auto socket = std::make_unique<asio::posix::stream_descriptor>(io_);
    boost::system::error_code ec;
    socket->assign(socket_fd_, ec);
    if (ec) {
        // Not expected (the socket is open while nats.c watches it); without it the connection
        // looks dead to nats.c's pings, which then reconnects.
        TG_LOG(warn, "NATS event loop: cannot watch the socket: %s", ec.message().c_str());
        return false;
    }
    socket_ = std::move(socket);
    return true;
}

void NatsEventLoop::drop() {
    std::lock_guard lock(mutex_);
    if (!socket_ || live_locked()) return;
    // Cancels the waits (their handlers see a stale generation) and forgets the descriptor.
    socket_->release();
    socket_.reset();
    read_armed_ = write_armed_ = false;
}

void NatsEventLoop::arm_read_locked() {
    if (read_armed_) return;
    read_armed_ = true;
    const std::uint64_t generation = socket_generation_;
    socket_->async_wait(asio::posix::stream_descriptor::wait_read, [this, generation](const boost::system::error_code& ec) {
        {
            std::lock_guard lock(mutex_);
            if (generation != socket_generation_) return;  // a released socket's wait
            read_armed_ = false;
        }
        if (!ec) read_ready(generation);
    });
}

void NatsEventLoop::park_until_locked(std::chrono::steady_clock::time_point due) {
    // Out of the reactor while parked: its edge-triggered registration would otherwise wake this
    // thread for every arriving message all the same. It stays out for the whole burst: each
    // window's read needs no readiness (nats.c's read of an empty socket reads nothing), and an
    // EPOLL_CTL_ADD and _DEL per window cost more than the read (2.6 µs on this kind of VM).
    if (socket_) {
        socket_->release();
        socket_.reset();
        read_armed_ = write_armed_ = false;
    }
    const std::uint64_t generation = socket_generation_;
    coalesce_timer_.expires_at(due);
    coalesce_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
        if (ec) return;
        {
            std::lock_guard lock(mutex_);
            // Stopped meanwhile (nats.c may have closed the socket): leave it. A socket that is
            // in the reactor again was adopted anew, and its own waits read it.
            if (socket_ || !live_locked() || generation != socket_generation_) return;
            if (write_wanted_) asio::post(io_, [this, generation] { write_ready(generation); });
        }
        read_ready(generation);
    });
}

void NatsEventLoop::arm_write_locked() {
    if (write_armed_) return;
    write_armed_ = true;
    const std::uint64_t generation = socket_generation_;
    socket_->async_wait(asio::posix::stream_descriptor::wait_write, [this, generation](const boost::system::error_code& ec) {
        {
            std::lock_guard lock(mutex_);
            if (generation != socket_generation_) return;
            write_armed_ = false;
        }
        if (!ec) write_ready(generation);
    });
}

void NatsEventLoop::read_ready(std::uint64_t generation) {
    {
        std::lock_guard lock(mutex_);
        if (!live_locked() || generation != socket_generation_) return;
    }
    // One read per readiness, outside the lock (nats.c calls the hooks from in here when it
    // reads a disconnect). Bytes left unread are no risk: the reactor re-registers the socket on
    // every wait (EPOLL_CTL_MOD), which reports them at once.
    natsConnection_ProcessReadEvent(nc_);
    const bool took = after_read_();
    const auto now = std::chrono::steady_clock::now();
    // A burst (two reads with messages less than a window apart) switches to one read per window,
    // which takes everything that arrived meanwhile with one wake-up, until a read finds nothing;
    // so the first message after a quiet spell is read at once, and a slow feed never waits.
    const bool burst = coalesce_.count() > 0 && took && (bursting_ || now - last_took_ < coalesce_);
    bursting_ = burst;
    if (took) last_took_ = now;
    std::lock_guard lock(mutex_);
    if (!live_locked() || generation != socket_generation_) return;
    if (burst) return park_until_locked(now + coalesce_);
    // The burst is over (or there was none): back into the reactor, whose registration reports
    // at once whatever came after the read above.
    if (!socket_ && !watch_locked()) return;
    arm_read_locked();
}

void NatsEventLoop::write_ready(std::uint64_t generation) {
    if (!write_pending(generation)) return;
    std::lock_guard lock(mutex_);
    // Still wanted: the socket took part of it; wait until it takes more (a socket parked by
    // the read coalescing gets its write retried when it comes back).
    if (write_wanted_ && current_locked() && generation == socket_generation_) arm_write_locked();
}

}  // namespace tickgate::feeds
