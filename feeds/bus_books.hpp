#pragma once
// Order books read from the bus, made safe to serve. A gateway that starts late, reconnects, or
// loses a message (nats-server drops a slow subscriber's backlog) holds deltas it cannot apply:
// applying a delta to the wrong book gives clients books that fail their checksum. So a book is
// forwarded to the ring only while its chain is whole:
//   - a book is *ready* once it has a base: a reset record (the publisher's first change of the
//     book) or a keyframe (the publisher's full book every second on <prefix>.bookkf.<SYM>);
//   - a ready book forwards each delta whose seq is the last one + 1 (the publisher numbers every
//     change of a book); a seq further on is a gap: the book stops forwarding and waits;
//   - a waiting book buffers what comes, and takes the first keyframe that its buffered deltas
//     continue (its seq at least the first buffered one's - 1), then those above the keyframe's seq;
//   - a keyframe that comes to a waiting book with nothing buffered (JetStream's, read at connect,
//     before the live deltas are taken) is held: the next delta shows whether it continues it (a
//     base then) or comes after changes this gateway never saw (the keyframe is dropped and the
//     book waits for the next). A second keyframe with still no delta between is a quiet book's:
//     a base. So a late gateway never serves a book older than the live stream.
// The first time a book is seen, an empty change at seq 0 goes to the ring first: the engine then
// knows the topic (a subscribe is acknowledged) and serves its snapshot when the first real change
// comes (the subscription registry sends subscribers of a book without a base a snapshot then).
// A keyframe or reset reaches the engine as a reset change: it diffs the views against what they
// held, so clients' chains stay whole across a resync.
// Loop thread of the NATS feed only.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/bus_update.hpp"
#include "protocol/model/market_update.hpp"

namespace tickgate::feeds {

class BusBookAssembler {
public:
    /// What a record did to its book.
    enum class Outcome {
        forwarded,      // its change went to the ring
        duplicate,      // seq not above the book's last: already had it
        buffered,       // the book waits for a keyframe; kept
        gap,            // a seq past the next: the book was ready and now waits (this one kept)
        became_ready,   // a keyframe or reset gave the book its base (and the buffered deltas after it)
        stale_keyframe, // a keyframe older than what the book needs: ignored
        held,           // a keyframe kept until the next delta shows whether it is a base
        over_limit,     // a book beyond max_books: ignored
    };

    /// max_books bounds the books tracked, max_buffered the deltas one waiting book keeps (the
    /// oldest go first: a keyframe newer than them is needed then anyway).
    explicit BusBookAssembler(std::size_t max_books, std::size_t max_buffered = 4096)
        : max_books_(max_books), max_buffered_(max_buffered) {}

    /// A book record of `topic` (book.<SYM>) from its delta subject. Appends the fragments to put
    /// in the ring, in order, topics set, to `out`.
    Outcome on_delta(std::string_view topic, const protocol::BusBookRecord& r, std::vector<protocol::MarketUpdate>& out);
    /// A keyframe of `topic` (book.<SYM>, from <prefix>.bookkf.<SYM>).
    Outcome on_keyframe(std::string_view topic, const protocol::BusBookRecord& r, std::vector<protocol::MarketUpdate>& out);

    /// The publisher's seq space started over (a new epoch): every book forgets its chain and
    /// waits for a base again (the new publisher's first change of each book is a reset record),
    /// instead of taking the new seqs for duplicates. The books stay known to the engine.
    void reset_all();

    bool ready(std::string_view topic) const;
    /// The seq of the book's last change forwarded (0: none).
    std::uint64_t last_seq(std::string_view topic) const;
    /// Books without a base right now.
    std::size_t waiting() const noexcept { return waiting_; }
    /// Buffered deltas dropped because a waiting book held max_buffered already.
    std::uint64_t buffer_drops() const noexcept { return buffer_drops_; }

private:
    struct Book {
        bool ready = false;
        std::uint64_t last_seq = 0;
        std::deque<std::string> buffered;  // record bodies, in arrival order
        std::string held_keyframe;         // a waiting book's keyframe that no delta has confirmed yet
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    Book* book_for(std::string_view topic, const protocol::BusBookRecord& r, std::vector<protocol::MarketUpdate>& out);
    void forward(std::string_view topic, const protocol::BusBookRecord& r, std::vector<protocol::MarketUpdate>& out);
    void buffer(Book& b, std::string_view body);
    /// Forwards a keyframe as a reset change and makes it the book's base, then the buffered deltas.
    void apply_keyframe(std::string_view topic, Book& b, const protocol::BusBookRecord& r,
                        std::vector<protocol::MarketUpdate>& out);
    void set_ready(Book& b, bool ready);
    /// Forwards the buffered deltas above last_seq while they continue the chain; stops (waiting
    /// again) at a gap.
    void drain_buffer(std::string_view topic, Book& b, std::vector<protocol::MarketUpdate>& out);

    std::size_t max_books_;
    std::size_t max_buffered_;
    std::unordered_map<std::string, Book, Hash, std::equal_to<>> books_;
    std::size_t waiting_ = 0;
    std::uint64_t buffer_drops_ = 0;
};

}  // namespace tickgate::feeds
