#pragma once
// Topic string -> a small dense number (0, 1, 2, ... in order of first sight), per connection.
// Every update names its topic as text; this turns it into an array index with one hash of the
// few bytes and, usually, one probe of a flat table, instead of a node-based map lookup.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tickgate::load {

class TopicSlots {
public:
    static constexpr std::uint32_t kNone = ~std::uint32_t{0};

    /// The slot of `topic`, or kNone when it has not been added.
    std::uint32_t find(std::string_view topic) const noexcept { return find(topic, hash(topic)); }
    /// The slot of `topic`, adding it (as the next number) when new. Allocates only then.
    std::uint32_t find_or_add(std::string_view topic);

    std::size_t size() const noexcept { return size_; }
    void clear() noexcept;

    /// A 64-bit hash of short strings, eight bytes per step.
    static std::uint64_t hash(std::string_view s) noexcept;

private:
    std::uint32_t find(std::string_view topic, std::uint64_t h) const noexcept;
    void grow();

    // Open addressing, linear probing, capacity a power of two at most half full. Each cell holds
    // the full hash and the name itself (a short topic fits std::string's inline buffer), so a hit
    // touches one cell and compares text only when the hashes agree.
    struct Cell {
        std::uint64_t hash = 0;
        std::uint32_t slot = kNone;
        std::string name;
    };
    std::vector<Cell> cells_;
    std::uint32_t size_ = 0;
};

}  // namespace tickgate::load
