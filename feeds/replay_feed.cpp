#include "feeds/replay_feed.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "feeds/pacing.hpp"
#include "feeds/runtime/clock.hpp"
#include "protocol/decimal.hpp"
#include "protocol/model/order_book.hpp"
#include "protocol/topic.hpp"
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

// Brings a decoded ticker or trade to the decimals its topic got from its first line. Returns an
// empty string on success, else the reason the line is bad.
std::string fix_decimals(protocol::MarketUpdate& u, int price_decimals, int size_decimals) {
    const bool trade = u.kind == protocol::UpdateKind::trade;
    std::int64_t* const ticker_prices[] = {&u.bid, &u.ask, &u.last, &u.open_24h, &u.high_24h, &u.low_24h};
    std::int64_t* const ticker_sizes[] = {&u.bid_size, &u.ask_size, &u.last_size, &u.volume_24h};
    std::int64_t* const trade_price[] = {&u.trade.price};
    std::int64_t* const trade_size[] = {&u.trade.size};
    if (!rescale_all(trade ? trade_price : ticker_prices, trade ? 1 : 6, u.price_decimals, price_decimals))
        return std::string(trade ? "price does" : "prices do") + " not fit the " + std::to_string(price_decimals) +
               " decimals of the topic's first line";
    if (!rescale_all(trade ? trade_size : ticker_sizes, trade ? 1 : 4, u.size_decimals, size_decimals))
        return std::string(trade ? "size does" : "sizes do") + " not fit the " + std::to_string(size_decimals) +
               " decimals of the topic's first line";
    u.price_decimals = static_cast<std::uint8_t>(price_decimals);
    u.size_decimals = static_cast<std::uint8_t>(size_decimals);
    return {};
}

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

// Turns the file's lines into entries: decodes every line first (a symbol's book source depends on
// whether the file has book50 lines of it anywhere, and a book's decimals on its first line with a
// level), then walks them in order, checking each book line against its topic's chain.
class ReplayFeed::Loader {
public:
    explicit Loader(ReplayFeed& feed) : feed_(feed) {}

    void load(const std::string& text) {
        decode_all(text);
        for (const Decoded& d : decoded_) {
            if (d.line.kind == protocol::UpdateKind::book) add_book_line(d.line_no, d.line.book);
            else add_update(d.line_no, d.line.update);
        }
        report_left_out();
        feed_.seqs_.assign(topics_.size(), 0);
        // Between laps, the recording's mean gap between lines keeps the rate steady across the seam.
        const auto span = feed_.lines_ > 1 ? static_cast<double>(prev_ts_ - first_ts_) / (feed_.lines_ - 1) : 0.0;
        feed_.lap_delay_ns_ = static_cast<std::int64_t>((span > 0 ? span : kDefaultLapNs) / feed_.options_.speed);
    }

private:
    struct Decoded {
        std::size_t line_no;
        protocol::RecordedLine line;
    };
    struct Topic {
        std::uint32_t id;
        int price_decimals, size_decimals;
    };
    // One recorded view topic (book.<SYM> or book50.<SYM>) replayed as its symbol's source book.
    struct Chain {
        std::uint32_t topic_id = 0;  // of the source topic, book.<SYM>
        std::string source_topic;
        std::size_t depth = 0;       // the view's
        protocol::OrderBook book;    // the recorded view's state, to check each line's checksum
        bool synced = false;         // a snapshot was accepted and no line has broken the chain since
        bool started = false;        // a snapshot was ever accepted
        std::uint64_t last_seq = 0;  // seq of the last line accepted: the next delta's prev_seq
        std::size_t broken_at = 0;   // line of the break while waiting for a snapshot
        std::size_t left_out = 0;    // lines left out since then
    };
    struct Change {
        protocol::BookSide side;
        protocol::PriceLevel level;
    };

    void report(std::size_t line_no, const std::string& reason) const {
        std::cerr << "tickgate: replay " << feed_.options_.file << ':' << line_no << ": " << reason << '\n';
    }
    void report_file(const std::string& reason) const {
        std::cerr << "tickgate: replay " << feed_.options_.file << ": " << reason << '\n';
    }

    void decode_all(const std::string& text) {
        std::size_t line_no = 0;
        std::string_view rest = text;
        while (!rest.empty()) {
            const std::size_t end = rest.find('\n');
            std::string_view line = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
            ++line_no;
            if (is_blank(line)) continue;
            if (line.back() == '\r') line.remove_suffix(1);
            Decoded d{line_no, {}};
            std::string reason;
            if (!protocol::decode_recorded_line(line, d.line, reason)) {
                report(line_no, reason.empty() ? "not a valid update" : reason);
                continue;
            }
            if (d.line.kind == protocol::UpdateKind::book) {
                const protocol::BookLine& b = d.line.book;
                const std::string_view symbol = protocol::topic_symbol(b.topic);
                if (std::strlen("book50.") + symbol.size() > protocol::kMaxTopicLength) {
                    report(line_no, b.topic + ": symbol too long for a book (its book50 view would be over " +
                                        std::to_string(protocol::kMaxTopicLength) + " characters)");
                    continue;
                }
                if (protocol::topic_channel(b.topic) == "book50") book50_symbols_.emplace(symbol);
                if (b.level_count() > 0) book_decimals_.try_emplace(b.topic, b.price_decimals, b.size_decimals);
            }
            decoded_.push_back(std::move(d));
        }
    }

    Topic& topic(std::string_view name, int price_decimals, int size_decimals, bool& first) {
        const auto [it, inserted] = topics_.try_emplace(
            std::string(name), Topic{static_cast<std::uint32_t>(topics_.size()), price_decimals, size_decimals});
        first = inserted;
        return it->second;
    }

    // Appends a ring slot; the first slot of a line takes the line's place in the recorded pace.
    void push(const protocol::MarketUpdate& u, std::uint32_t topic_id, std::int64_t ts, bool first_of_line) {
        Entry e{u, 0, topic_id};
        e.update.feed = static_cast<std::uint8_t>(feed_.feed_index_);
        if (first_of_line) {
            if (feed_.lines_ == 0) first_ts_ = ts;
            else if (ts > prev_ts_)
                e.delay_ns = static_cast<std::int64_t>(static_cast<double>(ts - prev_ts_) / feed_.options_.speed);
            prev_ts_ = ts;  // lines out of order are published at once, then the pace resumes from them
            ++feed_.lines_;
        }
        feed_.entries_.push_back(e);
    }

    void add_update(std::size_t line_no, protocol::MarketUpdate u) {
        bool first = false;
        const Topic& t = topic(u.topic(), u.price_decimals, u.size_decimals, first);
        if (!first) {
            const std::string reason = fix_decimals(u, t.price_decimals, t.size_decimals);
            if (!reason.empty()) return report(line_no, reason);
        }
        push(u, t.id, u.ts_ns, true);
    }

    void add_book_line(std::size_t line_no, const protocol::BookLine& b) {
        const std::string_view channel = protocol::topic_channel(b.topic);
        const std::string_view symbol = protocol::topic_symbol(b.topic);
        if (channel == "book" && book50_symbols_.contains(symbol)) {
            ++views_left_out_[b.topic];
            return;
        }
        Chain& chain = chain_for(b.topic, channel, symbol);
        std::vector<protocol::PriceLevel> bids, asks;
        std::string reason;
        if (!rescale_levels(b, chain.book, bids, asks, reason)) {
            // Left out: the next delta's prev_seq then names this line's seq, and the chain breaks there.
            report(line_no, b.topic + ": " + reason);
            return;
        }
        if (!b.snapshot && !chain.synced) {
            if (!chain.started && chain.left_out == 0) {
                report(line_no, b.topic + " starts with a delta (prev_seq " + std::to_string(b.prev_seq) +
                                    ", no snapshot yet); replaying it from its first snapshot");
                chain.broken_at = line_no;
            }
            ++chain.left_out;
            return;
        }
        std::string problem;
        if (!b.snapshot && b.prev_seq != chain.last_seq) {
            problem = "breaks its chain (prev_seq " + std::to_string(b.prev_seq) + ", expected " +
                      std::to_string(chain.last_seq) + ")";
        } else {
            problem = apply_and_check(chain, b, bids, asks);
        }
        if (!problem.empty()) {
            report(line_no, b.topic + " " + problem + "; rebuilding from the next snapshot");
            chain.synced = false;
            chain.broken_at = line_no;
            chain.left_out = 1;
            return;
        }
        if (b.snapshot && chain.broken_at != 0) {
            report(line_no, b.topic + " rebuilt from this snapshot (" + std::to_string(chain.left_out) +
                                " lines left out since line " + std::to_string(chain.broken_at) + ")");
        }
        chain.synced = chain.started = true;
        chain.last_seq = b.seq;
        chain.broken_at = chain.left_out = 0;
        emit_change(chain, b.ts_ns, b.snapshot, bids, asks);
    }

    Chain& chain_for(const std::string& view_topic, std::string_view channel, std::string_view symbol) {
        const auto found = chains_.find(view_topic);
        if (found != chains_.end()) return found->second;
        // A book that never has a level keeps the gateway's usual decimals.
        const auto d = book_decimals_.find(view_topic);
        const int price_decimals = d != book_decimals_.end() ? d->second.first : 2;
        const int size_decimals = d != book_decimals_.end() ? d->second.second : 4;
        Chain& chain = chains_[view_topic];
        chain.source_topic = "book." + std::string(symbol);
        chain.depth = channel == "book50" ? protocol::kBook50ViewDepth : protocol::kBookViewDepth;
        chain.book = protocol::OrderBook(static_cast<std::uint8_t>(price_decimals),
                                         static_cast<std::uint8_t>(size_decimals), protocol::kBookCapacity);
        bool first = false;
        chain.topic_id = topic(chain.source_topic, price_decimals, size_decimals, first).id;
        return chain;
    }

    // The line's levels at the book's decimals.
    static bool rescale_levels(const protocol::BookLine& b, const protocol::OrderBook& book,
                               std::vector<protocol::PriceLevel>& bids, std::vector<protocol::PriceLevel>& asks,
                               std::string& reason) {
        const int pd = book.price_decimals(), sd = book.size_decimals();
        const auto rescale = [&](const std::vector<protocol::PriceLevel>& in, std::vector<protocol::PriceLevel>& out) {
            for (const protocol::PriceLevel& l : in) {
                const auto price = protocol::rescale_decimal(l.price, b.price_decimals, pd);
                const auto size = protocol::rescale_decimal(l.size, b.size_decimals, sd);
                if (!price || !size) return false;
                out.push_back({*price, *size});
            }
            return true;
        };
        if (rescale(b.bids, bids) && rescale(b.asks, asks)) return true;
        reason = "levels do not fit the " + std::to_string(pd) + "/" + std::to_string(sd) +
                 " price/size decimals of the topic's first line with a level";
        return false;
    }

    // Applies the line to the recorded view's state; returns what is wrong with the result, if anything.
    static std::string apply_and_check(Chain& chain, const protocol::BookLine& b,
                                       const std::vector<protocol::PriceLevel>& bids,
                                       const std::vector<protocol::PriceLevel>& asks) {
        if (b.snapshot) chain.book.clear();
        // Removals first, as a client of a fixed-depth view must (protocol/README.md).
        for (const bool removals : {true, false}) {
            for (const protocol::PriceLevel& l : bids)
                if ((l.size == 0) == removals) chain.book.apply(protocol::BookSide::bid, l.price, l.size);
            for (const protocol::PriceLevel& l : asks)
                if ((l.size == 0) == removals) chain.book.apply(protocol::BookSide::ask, l.price, l.size);
        }
        for (const auto side : {protocol::BookSide::bid, protocol::BookSide::ask}) {
            if (chain.book.depth(side) > chain.depth) {
                return std::string("leaves ") + std::to_string(chain.book.depth(side)) +
                       (side == protocol::BookSide::bid ? " bids" : " asks") + ", more than the view's " +
                       std::to_string(chain.depth);
            }
        }
        if (const std::uint32_t ours = chain.book.checksum(); ours != b.checksum) {
            return "fails its checksum (checksum " + std::to_string(b.checksum) + ", expected " +
                   std::to_string(ours) + " after applying the line)";
        }
        return {};
    }

    // One change of the source book, as the simulator publishes one (see MarketUpdate): a snapshot
    // is a reset with every level, a delta its removals first (the gateway's source book then never
    // holds more than the view while it applies the change), then its other levels.
    void emit_change(const Chain& chain, std::int64_t ts, bool reset, const std::vector<protocol::PriceLevel>& bids,
                     const std::vector<protocol::PriceLevel>& asks) {
        std::vector<Change>& changes = changes_;
        changes.clear();
        for (const bool removals : {true, false}) {
            for (const protocol::PriceLevel& l : bids)
                if ((l.size == 0) == removals) changes.push_back({protocol::BookSide::bid, l});
            for (const protocol::PriceLevel& l : asks)
                if ((l.size == 0) == removals) changes.push_back({protocol::BookSide::ask, l});
        }
        std::size_t at = 0;
        do {
            protocol::MarketUpdate u;
            u.kind = protocol::UpdateKind::book;
            u.set_topic(chain.source_topic);
            u.price_decimals = chain.book.price_decimals();
            u.size_decimals = chain.book.size_decimals();
            const std::size_t n = std::min(changes.size() - at, protocol::kLevelsPerFragment);
            u.book.count = static_cast<std::uint8_t>(n);
            u.book.ask_mask = 0;
            for (std::size_t k = 0; k < n; ++k) {
                const Change& c = changes[at + k];
                u.book.price[k] = c.level.price;
                u.book.size[k] = c.level.size;
                if (c.side == protocol::BookSide::ask)
                    u.book.ask_mask = static_cast<std::uint8_t>(u.book.ask_mask | (1u << k));
            }
            u.book.flags = at == 0 ? (reset ? protocol::kBookFirst | protocol::kBookReset : protocol::kBookFirst) : 0;
            const bool first = at == 0;
            at += n;
            if (at == changes.size()) u.book.flags |= protocol::kBookLast;
            push(u, chain.topic_id, ts, first);
        } while (at < changes.size());
    }

    void report_left_out() const {
        for (const auto& [view, count] : views_left_out_) {
            const std::string book50 = "book50." + std::string(protocol::topic_symbol(view));
            report_file(view + ": its " + std::to_string(count) + " lines are left out: the gateway derives " + view +
                        " from " + book50 + ", whose lines this file also has");
        }
        for (const auto& [view, chain] : chains_) {
            if (chain.left_out == 0) continue;
            report_file(view + ": no snapshot after line " + std::to_string(chain.broken_at) + ": its last " +
                        std::to_string(chain.left_out) + " lines are left out");
        }
    }

    ReplayFeed& feed_;
    std::vector<Decoded> decoded_;
    std::set<std::string, std::less<>> book50_symbols_;
    std::unordered_map<std::string, std::pair<int, int>> book_decimals_;  // per view topic
    std::unordered_map<std::string, Topic> topics_;                         // per published topic
    std::map<std::string, Chain> chains_;                                   // per view topic; ordered reports
    std::map<std::string, std::size_t> views_left_out_;
    std::vector<Change> changes_;
    std::int64_t first_ts_ = 0, prev_ts_ = 0;
};

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
    Loader(*feed).load(text.str());
    if (feed->entries_.empty()) {
        error = "replay file " + options.file + " holds no valid update";
        return nullptr;
    }
    return feed;
}

ReplayFeed::ReplayFeed(const ReplayOptions& options, std::uint16_t feed_index)
    : name_("replay:" + options.file), options_(options), feed_index_(feed_index) {}


void ReplayFeed::run(std::stop_token stop, UpdateChannel& out) {
    if (entries_.empty()) return;
    use_precise_timer_slack();
    auto due = Clock::now();
    bool first_lap = true;
    std::int64_t change_ts = 0;
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
            // A book change's later fragments carry its first's seq and ts (see MarketUpdate).
            if (u.kind != protocol::UpdateKind::book || (u.book.flags & protocol::kBookFirst)) {
                ++seqs_[e.topic_id];
                change_ts = runtime::realtime_ns();
            }
            u.seq = seqs_[e.topic_id];
            u.ts_ns = change_ts;
            if (!out.publish(u, stop)) return;
        }
        first_lap = false;
    } while (options_.loop);
}

}  // namespace tickgate::feeds
