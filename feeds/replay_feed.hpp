#pragma once
// Replays a recording (--feed replay:FILE[,speed=X][,loop]): one protocol v1 message per line, as
// any v1 client writes them: tickers, book or book50 snapshots and deltas, and trades. The recorded
// ts only sets the pace; published updates carry the time they were replayed, the replay's own seq
// per topic (kept rising across laps), and the topic's decimals.
//
// A symbol's recorded book lines become the changes of its source book (book.<SYM>, from which the
// gateway derives both views): its book50 lines when the file has them, else its book lines. A
// snapshot line is a reset, a delta line sets levels. Every line is checked against the previous
// line of its topic (prev_seq) and against the book it leaves (checksum); a line that breaks the
// chain is reported with its number, and that book's lines are left out up to its next snapshot
// line, which is replayed as a reset. So the gateway serves an unbroken chain of the recorded
// states, less the broken stretch.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "feeds/feed_adapter.hpp"

namespace tickgate::feeds {

struct ReplayOptions {
    std::string file;
    double speed = 1;   // 2 plays twice as fast as recorded
    bool loop = false;  // restart at the end instead of returning from run()
};

class ReplayFeed final : public FeedAdapter {
public:
    /// Reads and decodes the whole file. Bad lines and broken book chains are reported on stderr
    /// ("tickgate: replay FILE:LINE: reason") and left out. Returns null and sets `error` when the
    /// file cannot be read or holds no valid line.
    static std::unique_ptr<ReplayFeed> open(const ReplayOptions& options, std::uint16_t feed_index,
                                            std::string& error);

    const std::string& name() const override { return name_; }

    /// Publishes every good line at its recorded pace divided by speed; returns at the end of the
    /// file unless looping, or when stop is requested.
    void run(std::stop_token stop, UpdateChannel& out) override;

    /// Good lines kept from the file (a book line is one change, however many ring slots it takes).
    std::size_t size() const noexcept { return lines_; }

private:
    struct Entry {
        protocol::MarketUpdate update;  // seq and ts are filled in when published
        std::int64_t delay_ns = 0;      // after the previous entry, already divided by speed
        std::uint32_t topic_id = 0;     // index into seqs_
    };
    class Loader;

    ReplayFeed(const ReplayOptions& options, std::uint16_t feed_index);

    std::string name_;
    ReplayOptions options_;
    std::uint16_t feed_index_;
    std::vector<Entry> entries_;       // a book change's fragments are consecutive entries
    std::size_t lines_ = 0;
    std::vector<std::uint64_t> seqs_;  // last seq published per topic, kept across loops
    std::int64_t lap_delay_ns_ = 0;    // between the last entry and the first when looping
};

}  // namespace tickgate::feeds
