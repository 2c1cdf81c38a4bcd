#include "feeds/replay_feed.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "feeds/pacing.hpp"
#include "feeds/runtime/clock.hpp"
#include "protocol/decimal.hpp"
#include "protocol/update_decoder.hpp"

namespace tickgate::feeds {
namespace {

using Clock = std::chrono::steady_clock;

// A replay that fell this far behind its schedule (the ring was full) resumes from now rather than
// publishing everything it owes at once.
constexpr auto kMaxLag = std::chrono::milliseconds(100);
// Pause between laps of a recording whose lines all share one ts (no pace of its own to reuse).
constexpr std::int64_t kDefaultLapNs = 1'000'000'000;

bool rescale_all(std::int64_t* const* fields, int count, int from, int to) {
    std::int64_t scaled[6];
    for (int i = 0; i < count; ++i) {
        auto v = protocol::rescale_decimal(*fields[i], from, to);
        if (!v) return false;
        scaled[i] = *v;
    }
    for (int i = 0; i < count; ++i) *fields[i] = scaled[i];
    return true;
}

// Brings a decoded line to the decimals its topic got from its first line. Returns an empty string
// on success, else the reason the line is bad.
std::string fix_decimals(protocol::MarketUpdate& u, int price_decimals, int size_decimals) {
    std::int64_t* const prices[] = {&u.bid, &u.ask, &u.last, &u.open_24h, &u.high_24h, &u.low_24h};
    std::int64_t* const sizes[] = {&u.bid_size, &u.ask_size, &u.last_size, &u.volume_24h};
    if (!rescale_all(prices, 6, u.price_decimals, price_decimals))
        return "prices do not fit the " + std::to_string(price_decimals) + " decimals of the topic's first line";
    if (!rescale_all(sizes, 4, u.size_decimals, size_decimals))
        return "sizes do not fit the " + std::to_string(size_decimals) + " decimals of the topic's first line";
    u.price_decimals = static_cast<std::uint8_t>(price_decimals);
    u.size_decimals = static_cast<std::uint8_t>(size_decimals);
    return {};
}

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

std::unique_ptr<ReplayFeed> ReplayFeed::open(const ReplayOptions& options, std::uint16_t feed_index,
                                             std::string& error) {
    std::error_code ec;
    if (std::filesystem::is_directory(options.file, ec)) {
        error = "cannot read replay file " + options.file + ": it is a directory";
        return nullptr;
    }
    std::ifstream in(options.file, std::ios::binary);
    if (!in) {
        error = "cannot read replay file " + options.file + ": " + std::strerror(errno);
        return nullptr;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::unique_ptr<ReplayFeed> feed(new ReplayFeed(options, feed_index));
    feed->load(text.str());
    if (feed->entries_.empty()) {
        error = "replay file " + options.file + " holds no valid update";
        return nullptr;
    }
    return feed;
}

ReplayFeed::ReplayFeed(const ReplayOptions& options, std::uint16_t feed_index)
    : name_("replay:" + options.file), options_(options), feed_index_(feed_index) {}

void ReplayFeed::load(const std::string& text) {
    struct TopicDecimals {
        std::uint32_t id;
        int price_decimals, size_decimals;
    };
    std::unordered_map<std::string, TopicDecimals> topics;
    std::int64_t first_ts = 0, prev_ts = 0;
    std::size_t line_no = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        const std::size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        ++line_no;
        if (is_blank(line)) continue;
        if (line.back() == '\r') line.remove_suffix(1);

        Entry e;
        std::string reason;
        if (protocol::decode_update(line, e.update, reason)) {
            const auto [it, first] = topics.try_emplace(std::string(e.update.topic()),
                                                        TopicDecimals{static_cast<std::uint32_t>(topics.size()),
                                                                      e.update.price_decimals,
                                                                      e.update.size_decimals});
            e.topic_id = it->second.id;
            if (!first) reason = fix_decimals(e.update, it->second.price_decimals, it->second.size_decimals);
        } else if (reason.empty()) {
            reason = "not a valid update";
        }
        if (!reason.empty()) {
            std::cerr << "tickgate: replay " << options_.file << ':' << line_no << ": " << reason << '\n';
            continue;
        }

        const std::int64_t ts = e.update.ts_ns;
        if (entries_.empty()) first_ts = ts;
        else if (ts > prev_ts) e.delay_ns = static_cast<std::int64_t>(static_cast<double>(ts - prev_ts) / options_.speed);
        prev_ts = ts;  // lines out of order are published at once, then the pace resumes from them
        e.update.feed = feed_index_;
        entries_.push_back(e);
    }
    seqs_.assign(topics.size(), 0);

    // Between laps, the recording's mean gap between lines keeps the rate steady across the seam.
    const auto span = entries_.size() > 1 ? static_cast<double>(prev_ts - first_ts) / (entries_.size() - 1) : 0.0;
    lap_delay_ns_ = static_cast<std::int64_t>((span > 0 ? span : kDefaultLapNs) / options_.speed);
}

void ReplayFeed::run(std::stop_token stop, UpdateChannel& out) {
    if (entries_.empty()) return;
    use_precise_timer_slack();
    auto due = Clock::now();
    bool first_lap = true;
    do {
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            const Entry& e = entries_[i];
            const std::int64_t delay = i != 0 ? e.delay_ns : first_lap ? 0 : lap_delay_ns_;
            due += std::chrono::nanoseconds(delay);
            if (delay > 0) {
                if (!sleep_until_or_stop(stop, due)) return;
            } else if (stop.stop_requested()) {
                return;
            }
            if (const auto now = Clock::now(); now - due > kMaxLag) due = now;

            protocol::MarketUpdate u = e.update;
            u.seq = ++seqs_[e.topic_id];
            u.ts_ns = runtime::realtime_ns();
            if (!out.publish(u, stop)) return;
        }
        first_lap = false;
    } while (options_.loop);
}

}  // namespace tickgate::feeds
