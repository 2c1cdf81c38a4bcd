#pragma once
// A bounded, preallocated, wait-free single-producer single-consumer ring, after rigtorp's
// SPSCQueue. Power-of-two slots indexed by free-running positions; each side owns one index on its
// own cache line and keeps a cached copy of the other side's index beside it, so in the steady
// state a push touches only the producer's line and the slot, and a pop only the consumer's line
// and the slot. The opposite index is re-read (one cache miss) only when the cached copy says the
// ring is full (producer) or empty (consumer). No read-modify-write anywhere: one producer and one
// consumer never race for the same index, which is what makes this faster than an MPSC ring whose
// producers must CAS a shared tail.
//
// Exactly one thread may push and exactly one (other) thread may pop at any time. Handing either
// role to another thread needs a happens-before edge between the two (a join, a mutex, an
// acquire/release flag), as for any non-atomic object.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tickgate::feeds {

// A fixed 64 rather than std::hardware_destructive_interference_size: GCC warns that the latter
// may change between compiler versions, and 64 is right for every x86-64 and most ARM cores.
inline constexpr std::size_t kCacheLine = 64;

template <typename T>
class SpscRing {
    static_assert(std::is_nothrow_destructible_v<T>, "T must be nothrow destructible");

public:
    /// capacity is rounded up to a power of two (at least 1). All slots are allocated here; no
    /// element is constructed until it is pushed.
    explicit SpscRing(std::size_t capacity)
        : mask_(std::bit_ceil(std::max<std::size_t>(capacity, 1)) - 1),
          slots_(static_cast<T*>(::operator new(sizeof(T) * (mask_ + 1), std::align_val_t{kSlotAlign}))) {}

    ~SpscRing() {
        // No thread may touch the ring any more: destroy whatever was pushed and never popped.
        while (front() != nullptr) pop();
        ::operator delete(slots_, std::align_val_t{kSlotAlign});
    }

    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    /// Producer thread only. Constructs the element in place; returns false, leaving the ring and
    /// the arguments untouched, when it is full. The new tail is published with a release store,
    /// so the consumer that sees it also sees the element.
    template <typename... Args>
    [[nodiscard]] bool try_emplace(Args&&... args) noexcept {
        static_assert(std::is_nothrow_constructible_v<T, Args&&...>, "constructing T must not throw");
        const std::size_t tail = producer_.tail.load(std::memory_order_relaxed);
        if (tail - producer_.head_cache == capacity()) {
            // Full by our stale copy of the head: fetch the real one (the only time the producer
            // reads the consumer's line). Acquire pairs with pop's release, so the consumer is done
            // with the slot before we construct into it.
            producer_.head_cache = consumer_.head.load(std::memory_order_acquire);
            if (tail - producer_.head_cache == capacity()) return false;
        }
        ::new (static_cast<void*>(slots_ + (tail & mask_))) T(std::forward<Args>(args)...);
        producer_.tail.store(tail + 1, std::memory_order_release);
        return true;
    }
    [[nodiscard]] bool try_push(const T& v) noexcept { return try_emplace(v); }
    [[nodiscard]] bool try_push(T&& v) noexcept { return try_emplace(std::move(v)); }

    /// Consumer thread only. The oldest element, or nullptr when the ring is empty.
    [[nodiscard]] T* front() noexcept {
        const std::size_t head = consumer_.head.load(std::memory_order_relaxed);
        if (head == consumer_.tail_cache) {
            // Empty by our stale copy of the tail: fetch the real one (acquire pairs with the
            // producer's release, making the element visible).
            consumer_.tail_cache = producer_.tail.load(std::memory_order_acquire);
            if (head == consumer_.tail_cache) return nullptr;
        }
        return std::launder(slots_ + (head & mask_));
    }

    /// Consumer thread only; front() must have returned non-null. Destroys the oldest element.
    void pop() noexcept {
        const std::size_t head = consumer_.head.load(std::memory_order_relaxed);
        std::launder(slots_ + (head & mask_))->~T();
        consumer_.head.store(head + 1, std::memory_order_release);
    }

    /// Consumer thread only. Moves up to `max` elements, oldest first, into out[0..n) (assigning to
    /// existing objects), destroys them in the ring and returns n. The tail is read at most once
    /// and the head published once per batch, so draining a burst costs two index accesses in all.
    [[nodiscard]] std::size_t pop_into(T* out, std::size_t max) noexcept {
        static_assert(std::is_nothrow_move_assignable_v<T>, "pop_into needs nothrow move assignment");
        const std::size_t head = consumer_.head.load(std::memory_order_relaxed);
        if (consumer_.tail_cache - head < max) consumer_.tail_cache = producer_.tail.load(std::memory_order_acquire);
        const std::size_t n = std::min(consumer_.tail_cache - head, max);
        for (std::size_t i = 0; i < n; ++i) {
            T* e = std::launder(slots_ + ((head + i) & mask_));
            out[i] = std::move(*e);
            e->~T();
        }
        if (n != 0) consumer_.head.store(head + n, std::memory_order_release);
        return n;
    }

    /// Consumer thread only. True when the producer has published nothing the consumer has not
    /// taken. Sequentially consistent, so that a consumer which raised a seq_cst "going to sleep"
    /// flag just before and a producer which fenced after its push cannot both miss each other
    /// (Dekker); UpdateChannel relies on this to never sleep through a publish.
    [[nodiscard]] bool drained() const noexcept {
        return producer_.tail.load(std::memory_order_seq_cst) == consumer_.head.load(std::memory_order_relaxed);
    }

    /// Any thread. Approximate while either side is active; exact once both are quiet.
    [[nodiscard]] std::size_t size() const noexcept {
        const std::size_t head = consumer_.head.load(std::memory_order_acquire);
        const std::size_t tail = producer_.tail.load(std::memory_order_acquire);
        // Loaded apart, the two can cross; clamp rather than report a wrapped-around size.
        if (tail <= head) return 0;
        return std::min(tail - head, capacity());
    }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

private:
    // Slots start on a cache line, so an element of a line's size or more never shares a line with
    // the allocator's bookkeeping or another allocation.
    static constexpr std::size_t kSlotAlign = std::max(kCacheLine, alignof(T));

    // Each side writes only its own line (apart from the slots): a push never invalidates the
    // consumer's line, a pop never invalidates the producer's. The cached copy of the opposite
    // index sits on the owner's line, where reading it costs nothing.
    struct alignas(kCacheLine) ProducerSide {
        std::atomic<std::size_t> tail{0};  // next position to write; stored by the producer only
        std::size_t head_cache = 0;        // a recent consumer head: proves most slots free
    };
    struct alignas(kCacheLine) ConsumerSide {
        std::atomic<std::size_t> head{0};  // next position to read; stored by the consumer only
        std::size_t tail_cache = 0;        // a recent producer tail: proves most slots full
    };

    const std::size_t mask_;
    T* const slots_;
    ProducerSide producer_;
    ConsumerSide consumer_;
};

}  // namespace tickgate::feeds
