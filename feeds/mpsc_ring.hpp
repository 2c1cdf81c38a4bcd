#pragma once
// A bounded, preallocated, lock-free multi-producer single-consumer ring (Vyukov's bounded queue
// specialised for one consumer). Power-of-two slots; each slot carries a turn counter so producers
// never wait for one another beyond the CAS on the tail, and the consumer needs no atomic RMW.
// The consumer owns its head index outright: it is cache-line padded away from the producers' tail.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace tickgate::feeds {

template <typename T>
class MpscRing {
    static_assert(std::is_nothrow_copy_constructible_v<T> || std::is_nothrow_move_constructible_v<T>,
                  "T must be nothrow copy- or move-constructible");

public:
    /// capacity is rounded up to a power of two (at least 2).
    explicit MpscRing(std::size_t capacity);
    ~MpscRing();
    MpscRing(const MpscRing&) = delete;
    MpscRing& operator=(const MpscRing&) = delete;

    /// Any thread. Returns false, leaving the ring unchanged, when it is full.
    template <typename... Args>
    [[nodiscard]] bool try_emplace(Args&&... args) noexcept;
    [[nodiscard]] bool try_push(const T& v) noexcept { return try_emplace(v); }

    /// Consumer thread only. The front element, or nullptr when empty.
    [[nodiscard]] T* front() noexcept;
    /// Consumer thread only; front() must have returned non-null.
    void pop() noexcept;

    /// Approximate: exact only when no thread is pushing or popping.
    [[nodiscard]] std::size_t size() const noexcept;
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }
};

}  // namespace tickgate::feeds
