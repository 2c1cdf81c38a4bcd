#include "feeds/nats_event_loop.hpp"

#include <boost/asio/post.hpp>
#include <nats/nats.h>
#include <sys/ioctl.h>

namespace tickgate::feeds {
namespace asio = boost::asio;

namespace {

// Reads handled in one turn before other handlers get theirs (the reload's hand-over, stop).
constexpr int kReadsPerTurn = 64;

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
            if (!add || !self->watching_) return NATS_OK;
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

NatsEventLoop::NatsEventLoop(asio::io_context& io, std::function<void()> after_read)
    : io_(io), after_read_(std::move(after_read)) {}

NatsEventLoop::~NatsEventLoop() {
    // The descriptor is nats.c's: released, never closed.
    if (socket_) socket_->release();
}

int NatsEventLoop::install(natsOptions* opts) {
    return natsOptions_SetEventLoop(opts, this, Hooks::attach, Hooks::read, Hooks::write, Hooks::detach);
}

void NatsEventLoop::adopt(natsConnection* nc, int fd, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_ || !watching_ || closed_) return;  // already stopped: fd may be gone
    if (socket_) socket_->release();
    socket_.reset();
    read_armed_ = write_armed_ = false;
    nc_ = nc;
    // Under the lock: nats.c cannot close fd before the reactor has it.
    socket_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    socket_generation_ = generation;
    arm_read_locked();
    if (write_wanted_) asio::post(io_, [this, generation] { write_ready(generation); });
}

void NatsEventLoop::drop() {
    std::lock_guard lock(mutex_);
    if (!socket_ || current_locked()) return;
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
    // The reactor reports readiness edge-triggered: a wait armed while unread bytes remain would
    // not fire again, so read until the socket is empty and arm in this same handler (nothing
    // else runs on this thread in between, so what arrives meanwhile raises a new edge).
    for (int i = 0; i < kReadsPerTurn; ++i) {
        {
            std::lock_guard lock(mutex_);
            if (closed_ || generation != generation_) return;
        }
        // Outside the lock: nats.c calls the hooks from in here (a disconnect it reads).
        natsConnection_ProcessReadEvent(nc_);
        int unread = 0;
        {
            std::lock_guard lock(mutex_);
            if (!current_locked() || generation != socket_generation_) {
                after_read_();
                return;
            }
            if (::ioctl(socket_->native_handle(), FIONREAD, &unread) != 0) unread = 0;
        }
        if (unread > 0) continue;
        after_read_();
        std::lock_guard lock(mutex_);
        if (current_locked() && generation == socket_generation_) arm_read_locked();
        return;
    }
    // Still more: let the other handlers run, then go on reading.
    after_read_();
    asio::post(io_, [this, generation] { read_ready(generation); });
}

void NatsEventLoop::write_ready(std::uint64_t generation) {
    {
        std::lock_guard lock(mutex_);
        if (closed_ || !current_locked() || generation != socket_generation_ || !write_wanted_) return;
    }
    natsConnection_ProcessWriteEvent(nc_);
    std::lock_guard lock(mutex_);
    // Still wanted: the socket took part of it; wait until it takes more.
    if (write_wanted_ && current_locked() && generation == socket_generation_) arm_write_locked();
}

}  // namespace tickgate::feeds
