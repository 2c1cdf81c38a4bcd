#pragma once
// A bounded, preallocated, lock-free multi-producer single-consumer ring (Vyukov's bounded queue
// specialised for one consumer). Power-of-two slots; each slot carries a turn counter so producers
// never wait for one another beyond the CAS on the tail, and the consumer needs no atomic RMW.
// The consumer owns its head index outright: it is cache-line padded away from the producers' tail.
//
// Turn protocol for the slot at position p (slot index p & mask): the producer that claimed p
// stores turn = p + 1 once the element is written; the consumer takes the element when it sees
// exactly p + 1 (an older lap left p + 1 - capacity there). Producers do not read turns: whether
// position p is free follows from the consumer's published head (p < head + capacity), which the
// consumer stores once per batch. So the consumer writes nothing per element, and a slot's lines
// only travel from producer to consumer, as in an SPSC queue, instead of ping-ponging.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace tickgate::feeds {

// A fixed 64 rather than std::hardware_destructive_interference_size: GCC warns that the latter
// may change between compiler versions, and 64 is right for every x86-64 and most ARM cores.
inline constexpr std::size_t kCacheLine = 64;

template <typename T>
class MpscRing {
    static_assert(std::is_nothrow_copy_constructible_v<T> || std::is_nothrow_move_constructible_v<T>,
                  "T must be nothrow copy- or move-constructible");
    static_assert(std::is_nothrow_destructible_v<T>, "T must be nothrow destructible");

public:
    /// capacity is rounded up to a power of two (at least 2).
    explicit MpscRing(std::size_t capacity)
        : mask_(round_up_pow2(capacity) - 1), slots_(std::make_unique<Slot[]>(mask_ + 1)) {
        // Anything but p + 1 marks position p (= slot i on the first lap) as not yet written.
        for (std::size_t i = 0; i <= mask_; ++i) slots_[i].turn.store(i, std::memory_order_relaxed);
    }

    ~MpscRing() {
        // No thread may touch the ring any more, so whatever is published is simply destroyed.
        for (T* p = front(); p != nullptr; p = front()) pop();
    }

    MpscRing(const MpscRing&) = delete;
    MpscRing& operator=(const MpscRing&) = delete;

    /// Any thread. Returns false, leaving the ring unchanged, when it is full.
    /// The successful tail CAS is sequentially consistent: a producer that then loads a seq_cst
    /// flag pairs with a consumer that stores that flag and calls nothing_claimed() (Dekker), which
    /// is how UpdateChannel avoids lost wake-ups without a fence on the producer's fast path.
    template <typename... Args>
    [[nodiscard]] bool try_emplace(Args&&... args) noexcept {
        static_assert(std::is_nothrow_constructible_v<T, Args&&...>, "constructing T must not throw");
        std::size_t pos = producers_.tail.load(std::memory_order_relaxed);
        for (;;) {
            if (static_cast<std::ptrdiff_t>(pos - producers_.head.load(std::memory_order_acquire)) >=
                static_cast<std::ptrdiff_t>(capacity())) {
                // Looks full by the producers' copy of the head: refresh it from the consumer's line
                // (the only time a producer reads that line). Acquire/release along the chain makes
                // the consumer's last reads of a slot happen before a producer overwrites it.
                const std::size_t head = consumer_.head.load(std::memory_order_acquire);
                producers_.head.store(head, std::memory_order_release);
                if (static_cast<std::ptrdiff_t>(pos - head) >= static_cast<std::ptrdiff_t>(capacity())) return false;
            }
            if (producers_.tail.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                                      std::memory_order_relaxed))
                break;  // pos is ours; on failure compare_exchange reloaded it
        }
        Slot& slot = slots_[pos & mask_];
        ::new (static_cast<void*>(slot.storage)) T(std::forward<Args>(args)...);
        slot.turn.store(pos + 1, std::memory_order_release);
        return true;
    }
    [[nodiscard]] bool try_push(const T& v) noexcept { return try_emplace(v); }

    /// Consumer thread only. The front element, or nullptr when empty.
    [[nodiscard]] T* front() noexcept {
        const std::size_t pos = consumer_.pos;
        Slot& slot = slots_[pos & mask_];
        if (slot.turn.load(std::memory_order_acquire) != pos + 1) return nullptr;
        return slot.element();
    }

    /// Consumer thread only; front() must have returned non-null.
    void pop() noexcept {
        slots_[consumer_.pos & mask_].element()->~T();
        consumer_.head.store(++consumer_.pos, std::memory_order_release);
    }

    /// Consumer thread only. Moves up to `max` elements into out[0..n) (assigning to existing
    /// objects) and returns n. Publishes the new head once per batch, which is what makes draining
    /// a burst cheaper than front()/pop() per element.
    [[nodiscard]] std::size_t pop_into(T* out, std::size_t max) noexcept {
        static_assert(std::is_nothrow_move_assignable_v<T>, "pop_into needs nothrow move assignment");
        std::size_t pos = consumer_.pos;
        std::size_t n = 0;
        for (; n < max; ++n, ++pos) {
            Slot& slot = slots_[pos & mask_];
            if (slot.turn.load(std::memory_order_acquire) != pos + 1) break;
            T* e = slot.element();
            out[n] = std::move(*e);
            e->~T();
        }
        if (n != 0) {
            consumer_.pos = pos;
            consumer_.head.store(pos, std::memory_order_release);
        }
        return n;
    }

    /// Consumer thread only. True when no producer has claimed a position past the consumer's
    /// head. Unlike front() == nullptr, it also sees a push that has claimed its slot but not yet
    /// finished writing it. Seq_cst so that it pairs with try_emplace's CAS (see there).
    [[nodiscard]] bool nothing_claimed() const noexcept {
        return producers_.tail.load(std::memory_order_seq_cst) == consumer_.pos;
    }

    /// Approximate: exact only when no thread is pushing or popping.
    [[nodiscard]] std::size_t size() const noexcept {
        const std::size_t head = consumer_.head.load(std::memory_order_relaxed);
        const std::size_t tail = producers_.tail.load(std::memory_order_relaxed);
        // Loaded apart, the two can cross; clamp rather than report a wrapped-around size.
        if (tail <= head) return 0;
        return tail - head > capacity() ? capacity() : tail - head;
    }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

private:
    struct alignas(kCacheLine) Slot {
        std::atomic<std::size_t> turn{0};
        alignas(T) unsigned char storage[sizeof(T)];

        T* element() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
    };

    // Producers and consumer each write only their own cache line (apart from the slots), so a
    // tail CAS never invalidates the consumer's head, and a pop never invalidates the tail.
    struct alignas(kCacheLine) ProducerSide {
        std::atomic<std::size_t> tail{0};  // next position a producer claims
        std::atomic<std::size_t> head{0};  // a recent consumer head: enough to know most slots are free
    };
    struct alignas(kCacheLine) ConsumerSide {
        std::size_t pos = 0;               // the consumer's own head, read without atomics
        std::atomic<std::size_t> head{0};  // pos as published to producers (release)
    };

    static std::size_t round_up_pow2(std::size_t n) noexcept {
        std::size_t p = 2;
        while (p < n) p <<= 1;
        return p;
    }

    const std::size_t mask_;
    std::unique_ptr<Slot[]> slots_;
    ProducerSide producers_;
    ConsumerSide consumer_;
};

}  // namespace tickgate::feeds
