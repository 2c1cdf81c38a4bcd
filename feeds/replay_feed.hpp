#pragma once
// Replays a recording (--feed replay:FILE[,speed=X][,loop]): one protocol v1 update object per line,
// as any v1 client writes them. The recorded ts only sets the pace; published updates carry the
// time they were replayed, the replay's own seq per topic, and the topic's decimals of its first line.

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
    /// Reads and decodes the whole file. Bad lines are reported on stderr
    /// ("tickgate: replay FILE:LINE: reason") and left out. Returns null and sets `error` when the
    /// file cannot be read.
    static std::unique_ptr<ReplayFeed> open(const ReplayOptions& options, std::uint16_t feed_index,
                                            std::string& error);

    const std::string& name() const override { return name_; }

    /// Publishes every good line at its recorded pace divided by speed; returns at the end of the
    /// file unless looping, or when stop is requested.
    void run(std::stop_token stop, UpdateChannel& out) override;

    /// Good lines kept from the file.
    std::size_t size() const noexcept { return entries_.size(); }

private:
    struct Entry {
        protocol::MarketUpdate update;  // seq and ts are filled in when published
        std::int64_t delay_ns = 0;      // after the previous entry, already divided by speed
        std::uint32_t topic_id = 0;     // index into seqs_
    };

    ReplayFeed(const ReplayOptions& options, std::uint16_t feed_index);
    void load(const std::string& text);

    std::string name_;
    ReplayOptions options_;
    std::uint16_t feed_index_;
    std::vector<Entry> entries_;
    std::vector<std::uint64_t> seqs_;  // last seq published per topic, kept across loops
    std::int64_t lap_delay_ns_ = 0;    // between the last entry and the first when looping
};

}  // namespace tickgate::feeds
