#pragma once
// One worker's egress through io_uring: every session with bytes to send on a loop pass prepares
// one send, and the pass goes to the kernel in io_uring_submit calls of up to 32 sends. Completions come back on
// the ring's eventfd, watched by the worker's io_context, so reads stay on epoll and Asio.
//
// Why: at ~300 bytes a message, a loopback send() costs ~4 us of which ~30% is the syscall itself
// (bench/loopback_send_bench); one submission for the N sends an update causes pays it once.
//
// A closed session must never write onto a reused descriptor. Sends name a slot in the ring's
// registered-file table (IOSQE_FIXED_FILE), never a descriptor number: the table holds its own
// reference to the socket, so a send still in flight when the session closes its descriptor goes
// to that socket (and fails with EPIPE after the shutdown), not to whoever gets the number next.
// Registered files rather than cancel-on-close: nothing has to keep the descriptor open or wait
// for a cancel, and close stays one synchronous call on both backends.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace tickgate::runtime {
class OwnedCounter;
}

namespace tickgate::gateway {

/// What a session gives the writer: the answer of its one send in flight.
class UringSink {
public:
    virtual ~UringSink() = default;
    /// Every byte asked for went out (`result` is their count), or -errno: the connection is done.
    /// `done_ns`: when the kernel reported it (realtime), which may be earlier than this call:
    /// completions are taken at the end of the worker's pass.
    virtual void on_sent(int result, std::int64_t done_ns) = 0;
};

class UringWriter {
public:
    /// The ring and its eventfd, watched by `io`; nullptr with `error` set when io_uring cannot be
    /// used here (ENOSYS, EPERM from a seccomp profile, io_uring_disabled). `max_files` bounds the
    /// sessions that can be attached at once.
    /// `submits` (may be null) counts the io_uring_submit calls that carried sends.
    static std::unique_ptr<UringWriter> create(boost::asio::io_context& io, unsigned max_files, std::string& error,
                                               runtime::OwnedCounter* submits = nullptr);
    ~UringWriter();
    UringWriter(const UringWriter&) = delete;
    UringWriter& operator=(const UringWriter&) = delete;

    /// Puts `fd` in the registered-file table: the slot its sends use, or -1 when the table is
    /// full (the session then stays on the epoll path).
    int attach(int fd);
    /// Takes the slot's socket out of the table. Only with no send in flight on it.
    void release(int slot);
    /// Prepares one send of [data, data + size) on `slot`; it goes to the kernel with the next
    /// submit(), at the latest once the current handler returns. Short sends are resubmitted here
    /// until every byte is out. `sink` (kept alive until its on_sent) is told the outcome; the
    /// bytes must stay put until then. One send per slot at a time.
    void send(int slot, const void* data, std::size_t size, std::shared_ptr<UringSink> sink);
    /// Hands every prepared send to the kernel in one call, and delivers what completed at once.
    /// (Every 32nd send prepared is submitted at once with those before it.)
    void submit();

    std::size_t attached() const noexcept;
    /// io_uring_submit calls that carried at least one send, and the sends they carried.
    std::uint64_t submissions() const noexcept;
    std::uint64_t sends() const noexcept;
    /// Sends resubmitted for the rest of a short send (or after EAGAIN).
    std::uint64_t resubmits() const noexcept;

private:
    struct Impl;
    explicit UringWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Empty when an io_uring ring can be set up in this process, else why not (one line).
std::string io_uring_unavailable_reason();

}  // namespace tickgate::gateway
