#include "bench/load/topic_slots.hpp"

#include <cstring>

namespace tickgate::load {
namespace {

constexpr std::size_t kFirstCapacity = 16;

std::uint64_t mix(std::uint64_t h) noexcept {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

}  // namespace

std::uint64_t TopicSlots::hash(std::string_view s) noexcept {
    // Fixed-size loads only (a memcpy of variable length is a library call): whole words, then the
    // last eight bytes overlapping the previous word; shorter strings from two overlapping halves.
    // The length seeds the hash, so overlapping loads still tell every string apart.
    const char* p = s.data();
    const std::size_t n = s.size();
    std::uint64_t h = mix(0x9E3779B97F4A7C15ULL ^ n);
    auto step = [&h](std::uint64_t w) { h = mix(h ^ w) * 0x9E3779B97F4A7C15ULL; };
    if (n >= 8) {
        std::uint64_t w;
        for (std::size_t at = 0; at + 8 < n; at += 8) {
            std::memcpy(&w, p + at, 8);
            step(w);
        }
        std::memcpy(&w, p + n - 8, 8);
        step(w);
    } else if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, p, 4);
        std::memcpy(&b, p + n - 4, 4);
        step(std::uint64_t{a} << 32 | b);
    } else if (n > 0) {
        const auto byte = [p](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
        step(byte(0) << 16 | byte(n / 2) << 8 | byte(n - 1));
    }
    return mix(h);
}

std::uint32_t TopicSlots::find(std::string_view topic, std::uint64_t h) const noexcept {
    if (cells_.empty()) return kNone;
    const std::size_t mask = cells_.size() - 1;
    // Bounded: the table is at most half full, so an empty cell comes within size() + 1 probes.
    for (std::size_t i = h & mask, probes = 0; probes <= size_; i = (i + 1) & mask, ++probes) {
        const Cell& c = cells_[i];
        if (c.slot == kNone) return kNone;
        if (c.hash == h && c.name == topic) return c.slot;
    }
    return kNone;
}

std::uint32_t TopicSlots::find_or_add(std::string_view topic) {
    const std::uint64_t h = hash(topic);
    if (const auto found = find(topic, h); found != kNone) return found;
    if ((size_ + 1) * 2 > cells_.size()) grow();
    const std::size_t mask = cells_.size() - 1;
    std::size_t i = h & mask;
    while (cells_[i].slot != kNone) i = (i + 1) & mask;  // ends: grow() left empty cells
    cells_[i] = Cell{h, size_, std::string(topic)};
    return size_++;
}

void TopicSlots::grow() {
    std::vector<Cell> old = std::move(cells_);
    cells_.assign(old.empty() ? kFirstCapacity : old.size() * 2, Cell{});
    const std::size_t mask = cells_.size() - 1;
    for (Cell& c : old) {
        if (c.slot == kNone) continue;
        std::size_t i = c.hash & mask;
        while (cells_[i].slot != kNone) i = (i + 1) & mask;
        cells_[i] = std::move(c);
    }
}

void TopicSlots::clear() noexcept {
    cells_.clear();
    size_ = 0;
}

}  // namespace tickgate::load
