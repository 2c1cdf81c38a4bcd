#pragma once
// A bounded, preallocated, lock-free multi-producer single-consumer ring (Vyukov's bounded queue
// specialised for one consumer). Power-of-two slots; each slot carries a turn counter so producers
// never wait for one another beyond the CAS on the tail, and the consumer needs no atomic RMW.
// The consumer owns its head index outright: it is cache-line padded away from the producers' tail.
//
// Turn protocol for the slot at position p (slot index p & mask): turn == p means "free for the
// producer of position p", turn == p + 1 means "holds the element of position p", and the
// consumer hands it back to the producer one lap later by storing p + capacity.

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
        std::size_t pos = tail_.value.load(std::memory_order_relaxed);
        Slot* slot;
        for (;;) {
            slot = &slots_[pos & mask_];
            const std::size_t turn = slot->turn.load(std::memory_order_acquire);
            const auto diff = static_cast<std::ptrdiff_t>(turn - pos);
            if (diff == 0) {
                if (tail_.value.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                                      std::memory_order_relaxed))
                    break;  // pos is ours; on failure compare_exchange reloaded it
            } else if (diff < 0) {
                return false;  // the consumer has not yet freed this slot from the previous lap
            } else {
                pos = tail_.value.load(std::memory_order_relaxed);  // another producer took pos
            }
        }
        ::new (static_cast<void*>(slot->storage)) T(std::forward<Args>(args)...);
        slot->turn.store(pos + 1, std::memory_order_release);
        return true;
    }
    [[nodiscard]] bool try_push(const T& v) noexcept { return try_emplace(v); }

    /// Consumer thread only. The front element, or nullptr when empty.
    [[nodiscard]] T* front() noexcept {
        Slot& slot = slots_[head_pos_ & mask_];
        if (slot.turn.load(std::memory_order_acquire) != head_pos_ + 1) return nullptr;
        return slot.element();
    }

    /// Consumer thread only; front() must have returned non-null.
    void pop() noexcept {
        Slot& slot = slots_[head_pos_ & mask_];
        slot.element()->~T();
        release(slot, head_pos_);
        ++head_pos_;
        head_.value.store(head_pos_, std::memory_order_relaxed);
    }

    /// Consumer thread only. Moves up to `max` elements into out[0..n) (assigning to existing
    /// objects) and returns n. Publishes the new head once per batch, which is what makes draining
    /// a burst cheaper than front()/pop() per element.
    [[nodiscard]] std::size_t pop_into(T* out, std::size_t max) noexcept {
        static_assert(std::is_nothrow_move_assignable_v<T>, "pop_into needs nothrow move assignment");
        std::size_t pos = head_pos_;
        std::size_t n = 0;
        for (; n < max; ++n, ++pos) {
            Slot& slot = slots_[pos & mask_];
            if (slot.turn.load(std::memory_order_acquire) != pos + 1) break;
            T* e = slot.element();
            out[n] = std::move(*e);
            e->~T();
            release(slot, pos);
        }
        if (n != 0) {
            head_pos_ = pos;
            head_.value.store(pos, std::memory_order_relaxed);
        }
        return n;
    }

    /// Consumer thread only. True when no producer has claimed a position past the consumer's
    /// head. Unlike front() == nullptr, it also sees a push that has claimed its slot but not yet
    /// finished writing it. Seq_cst so that it pairs with try_emplace's CAS (see there).
    [[nodiscard]] bool nothing_claimed() const noexcept {
        return tail_.value.load(std::memory_order_seq_cst) == head_pos_;
    }

    /// Approximate: exact only when no thread is pushing or popping.
    [[nodiscard]] std::size_t size() const noexcept {
        const std::size_t head = head_.value.load(std::memory_order_relaxed);
        const std::size_t tail = tail_.value.load(std::memory_order_relaxed);
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

    // Each index on its own cache line so producers bumping the tail never invalidate the line the
    // consumer reads its head from (and vice versa for size()).
    struct alignas(kCacheLine) PaddedIndex {
        std::atomic<std::size_t> value{0};
    };

    static std::size_t round_up_pow2(std::size_t n) noexcept {
        std::size_t p = 2;
        while (p < n) p <<= 1;
        return p;
    }

    void release(Slot& slot, std::size_t pos) noexcept {
        slot.turn.store(pos + mask_ + 1, std::memory_order_release);
    }

    const std::size_t mask_;
    std::unique_ptr<Slot[]> slots_;
    PaddedIndex tail_;   // next position a producer claims
    PaddedIndex head_;   // the consumer's head, published for size() only
    // The consumer's private copy of its head: read on every pop without an atomic load, and on a
    // line of its own so producers' tail CASes do not evict it.
    alignas(kCacheLine) std::size_t head_pos_ = 0;
};

}  // namespace tickgate::feeds
