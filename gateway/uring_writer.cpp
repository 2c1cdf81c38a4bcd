#include "gateway/uring_writer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <liburing.h>

#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/counters.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tickgate::gateway {
namespace asio = boost::asio;

namespace {
// Submission slots: a pass with more sends than this submits in several calls.
constexpr unsigned kSqEntries = 1024;
// Completions the kernel can hold before it has to buffer them (one send in flight per session).
constexpr unsigned kCqEntries = 16384;
// Sends prepared before they go to the kernel without waiting for the end of the pass. One
// submission for a whole pass makes the first client wait until every session's records are
// made (~2.5 us each: +0.25 ms p50 at 100 sessions a pass, bench/README.md); 32 keeps that wait
// near 40 us on average and still saves 31 of 32 system calls.
constexpr unsigned kSubmitEvery = 32;
// Completions taken from the ring per look.
constexpr unsigned kReapBatch = 256;

std::string describe(int err) {
    switch (err) {
    case ENOSYS: return "io_uring is not supported by this kernel (ENOSYS)";
    case EPERM: return "io_uring is refused here (EPERM: kernel.io_uring_disabled, or a seccomp profile)";
    default: return std::string("io_uring_queue_init failed: ") + std::strerror(err);
    }
}
}  // namespace

struct UringWriter::Impl {
    explicit Impl(asio::io_context& io) : io(io), event(io) {}
    ~Impl() {
        boost::system::error_code ignored;
        event.close(ignored);
        if (ring_ready) io_uring_queue_exit(&ring);
    }

    void watch() {
        event.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
            if (ec) return;
            std::uint64_t count = 0;
            // Drains the counter: the next completion must make the descriptor readable again.
            [[maybe_unused]] const ssize_t n = ::read(event.native_handle(), &count, sizeof count);
            watch();
            reap();
            if (queued) submit();
        });
    }

    void submit() {
        submit_posted = false;
        if (queued == 0) return;
        submit_only();
        // Sends to a socket with room complete inside the submit: deliver them now rather than a
        // loop turn later through the eventfd.
        reap();
    }

    void submit_only() {
        for (int attempt = 0; attempt < 100; ++attempt) {
            const int ret = io_uring_submit(&ring);
            if (ret >= 0 || (ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)) break;
            // -EBUSY/-EAGAIN: completions the kernel had to hold back; taking them makes room.
            reap();
        }
        ++submissions;
        if (submits) submits->add();
        sends += queued;
        queued = 0;
        stamp_completions();
    }

    /// Notes when each completion in the ring that has no time yet became visible: most sends
    /// complete inside the submit that carried them, but are taken only at the end of the pass
    /// (taking them mid-pass would run sessions' handlers inside the registry's walk), and a
    /// write's latency is the kernel's, not the pass's.
    void stamp_completions() {
        const unsigned ready = io_uring_cq_ready(&ring);
        if (ready <= stamped) return;
        const std::int64_t now = runtime::realtime_ns();
        unsigned head = 0, i = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring, head, cqe) {
            if (i++ < stamped) continue;
            if (cqe->user_data < pending.size()) pending[cqe->user_data].completed_ns = now;
        }
        stamped = i;
    }

    /// Delivers every completion the ring holds; returns how many.
    unsigned reap() {
        if (reaping) return 0;  // a sink's on_sent that flushes again must not recurse into here
        reaping = true;
        unsigned total = 0;
        io_uring_cqe* cqes[kReapBatch];
        for (;;) {
            const unsigned n = io_uring_peek_batch_cqe(&ring, cqes, kReapBatch);
            if (n == 0) break;
            done.clear();
            for (unsigned i = 0; i < n; ++i) done.emplace_back(cqes[i]->user_data, cqes[i]->res);
            io_uring_cq_advance(&ring, n);
            stamped = stamped > n ? stamped - n : 0;
            total += n;
            for (const auto& [data, res] : done) complete(static_cast<std::size_t>(data), res);
        }
        reaping = false;
        return total;
    }

    /// One send's answer: the rest of a short send goes at once, before anything the session has
    /// queued since (that waits for on_sent), so no byte is lost, repeated or reordered.
    void complete(std::size_t slot, int res) {
        Pending& p = pending[slot];
        if (!p.sink) return;
        if (res > 0 && p.done + static_cast<std::size_t>(res) < p.size) {
            p.done += static_cast<std::size_t>(res);
            ++resubmits;
            return prep(slot, false);
        }
        // The kernel polls a full socket itself; should it hand EAGAIN back, ask it to poll first.
        if (res == -EAGAIN || res == -EINTR) {
            ++resubmits;
            return prep(slot, true);
        }
        if (res == 0) res = -ECONNRESET;  // a zero-byte send for a non-empty buffer: not progress
        auto sink = std::move(p.sink);
        sink->on_sent(res < 0 ? res : static_cast<int>(p.size), p.completed_ns ? p.completed_ns : runtime::realtime_ns());
    }

    void prep(std::size_t slot, bool poll_first) {
        Pending& p = pending[slot];
        p.completed_ns = 0;
        io_uring_sqe* sqe = next_sqe();
        if (!sqe) {
            auto sink = std::move(pending[slot].sink);
            return asio::post(io, [sink = std::move(sink)] { sink->on_sent(-EAGAIN, runtime::realtime_ns()); });
        }
        io_uring_prep_send(sqe, static_cast<int>(slot), p.data + p.done, p.size - p.done, MSG_NOSIGNAL);
        sqe->flags |= IOSQE_FIXED_FILE;
        if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
        io_uring_sqe_set_data64(sqe, slot);
        if (++queued >= kSubmitEvery) return submit_only();
        // A send prepared outside the worker's flush pass (a reply, a ping, the rest of a short
        // send) still goes out within this loop turn.
        if (!submit_posted) {
            submit_posted = true;
            asio::post(io, [this] { submit(); });
        }
    }

    io_uring_sqe* next_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (!sqe) {
            // The submission queue is full: this pass goes out in two calls. Not submit(): its reap
            // would let completions take the freed entries before this send gets one.
            submit_only();
            sqe = io_uring_get_sqe(&ring);
        }
        return sqe;
    }

    asio::io_context& io;
    io_uring ring{};
    bool ring_ready = false;
    asio::posix::stream_descriptor event;
    struct Pending {
        std::shared_ptr<UringSink> sink;  // null: no send in flight on the slot
        const char* data = nullptr;
        std::size_t size = 0, done = 0;
        std::int64_t completed_ns = 0;  // when its completion was first seen (0: not yet)
    };
    std::vector<Pending> pending;  // per slot
    std::vector<int> free_slots;
    std::vector<std::pair<std::uint64_t, int>> done;
    unsigned queued = 0;
    unsigned stamped = 0;  // completions from the ring's head on that have their time
    bool submit_posted = false;
    bool reaping = false;
    std::uint64_t submissions = 0, sends = 0, resubmits = 0;
    runtime::OwnedCounter* submits = nullptr;
};

std::string io_uring_unavailable_reason() {
    io_uring ring{};
    const int ret = io_uring_queue_init(2, &ring, 0);
    if (ret < 0) return describe(-ret);
    io_uring_queue_exit(&ring);
    return {};
}

std::unique_ptr<UringWriter> UringWriter::create(asio::io_context& io, unsigned max_files, std::string& error,
                                                 runtime::OwnedCounter* submits) {
    auto impl = std::make_unique<Impl>(io);
    impl->submits = submits;
    io_uring_params params{};
    // SUBMIT_ALL: one bad send must not stop the rest of the pass from being submitted.
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    params.cq_entries = kCqEntries;
    int ret = io_uring_queue_init_params(kSqEntries, &impl->ring, &params);
    if (ret == -EINVAL) {  // a kernel before 5.18
        params = {};
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = kCqEntries;
        ret = io_uring_queue_init_params(kSqEntries, &impl->ring, &params);
    }
    if (ret < 0) {
        error = describe(-ret);
        return nullptr;
    }
    impl->ring_ready = true;
    if (max_files == 0) max_files = 1;
    if (const int ret = io_uring_register_files_sparse(&impl->ring, max_files); ret < 0) {
        error = std::string("io_uring file table of ") + std::to_string(max_files) + ": " + std::strerror(-ret);
        return nullptr;
    }
    const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        error = std::string("eventfd: ") + std::strerror(errno);
        return nullptr;
    }
    impl->event.assign(efd);
    if (const int ret = io_uring_register_eventfd(&impl->ring, efd); ret < 0) {
        error = std::string("io_uring_register_eventfd: ") + std::strerror(-ret);
        return nullptr;
    }
    impl->pending.resize(max_files);
    impl->free_slots.reserve(max_files);
    for (unsigned i = max_files; i-- > 0;) impl->free_slots.push_back(static_cast<int>(i));
    impl->watch();
    return std::unique_ptr<UringWriter>(new UringWriter(std::move(impl)));
}

UringWriter::UringWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UringWriter::~UringWriter() = default;

int UringWriter::attach(int fd) {
    if (impl_->free_slots.empty() || fd < 0) return -1;
    const int slot = impl_->free_slots.back();
    if (io_uring_register_files_update(&impl_->ring, static_cast<unsigned>(slot), &fd, 1) != 1) return -1;
    impl_->free_slots.pop_back();
    return slot;
}

void UringWriter::release(int slot) {
    if (slot < 0) return;
    int none = -1;
    io_uring_register_files_update(&impl_->ring, static_cast<unsigned>(slot), &none, 1);
    impl_->pending[static_cast<std::size_t>(slot)] = {};
    impl_->free_slots.push_back(slot);
}

void UringWriter::send(int slot, const void* data, std::size_t size, std::shared_ptr<UringSink> sink) {
    const auto s = static_cast<std::size_t>(slot);
    impl_->pending[s] = {std::move(sink), static_cast<const char*>(data), size, 0};
    impl_->prep(s, false);
}

void UringWriter::submit() { impl_->submit(); }

std::size_t UringWriter::attached() const noexcept { return impl_->pending.size() - impl_->free_slots.size(); }
std::uint64_t UringWriter::resubmits() const noexcept { return impl_->resubmits; }
std::uint64_t UringWriter::submissions() const noexcept { return impl_->submissions; }
std::uint64_t UringWriter::sends() const noexcept { return impl_->sends; }

}  // namespace tickgate::gateway
