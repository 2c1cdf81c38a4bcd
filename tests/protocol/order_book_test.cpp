#include "protocol/model/order_book.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace tp = tickgate::protocol;
using tp::BookSide;
using tp::OrderBook;
using tp::PriceLevel;

namespace {

constexpr BookSide kBid = BookSide::bid;
constexpr BookSide kAsk = BookSide::ask;

std::vector<PriceLevel> view(const OrderBook& b, BookSide s, std::size_t depth = tp::kMaxBookDepth) {
    std::vector<PriceLevel> out;
    tp::copy_levels(b.levels(s), depth, out);
    return out;
}

std::vector<std::string> texts(const OrderBook& b, BookSide s) {
    std::vector<std::string> out;
    for (const auto& l : b.levels(s)) out.emplace_back(l.checksum_text());
    return out;
}

bool before_on(BookSide s, std::int64_t a, std::int64_t b) { return s == kBid ? a > b : a < b; }

/// What a client does with a delta: size 0 removes the level (absent: nothing), any other size sets
/// it; the view stays best first. No truncation: the delta carries it.
void apply_delta(BookSide s, std::vector<PriceLevel>& view_levels, std::span<const PriceLevel> delta) {
    for (const PriceLevel& d : delta) {
        auto it = std::find_if(view_levels.begin(), view_levels.end(),
                               [&](const PriceLevel& l) { return !before_on(s, l.price, d.price); });
        const bool found = it != view_levels.end() && it->price == d.price;
        if (d.size == 0) {
            if (found) view_levels.erase(it);
        } else if (found) {
            it->size = d.size;
        } else {
            view_levels.insert(it, d);
        }
    }
}

bool best_first_unique(BookSide s, std::span<const PriceLevel> levels) {
    for (std::size_t i = 1; i < levels.size(); ++i) {
        if (!before_on(s, levels[i - 1].price, levels[i].price)) return false;
    }
    return true;
}

/// The hand example of protocol/README.md: asks 65000.00 x 1.1, 65000.50 x 0.2; bid 64999.50 x 0.25.
OrderBook readme_book() {
    OrderBook b(2, 4);
    b.apply(kAsk, 6500050, 2000);
    b.apply(kBid, 6499950, 2500);
    b.apply(kAsk, 6500000, 11000);
    return b;
}

}  // namespace

TEST(OrderBook, InsertsInOrderOnBothSides) {
    OrderBook b;
    for (std::int64_t p : {100, 103, 101, 99, 102}) b.apply(kBid, p, 10);
    for (std::int64_t p : {205, 201, 203, 200, 204}) b.apply(kAsk, p, 20);
    EXPECT_EQ(view(b, kBid), (std::vector<PriceLevel>{{103, 10}, {102, 10}, {101, 10}, {100, 10}, {99, 10}}));
    EXPECT_EQ(view(b, kAsk), (std::vector<PriceLevel>{{200, 20}, {201, 20}, {203, 20}, {204, 20}, {205, 20}}));
    EXPECT_EQ(b.depth(kBid), 5u);
    EXPECT_EQ(b.depth(kAsk), 5u);
}

TEST(OrderBook, ModifyKeepsRankAndRemoveClosesTheGap) {
    OrderBook b;
    for (std::int64_t p : {100, 101, 102}) b.apply(kBid, p, 10);
    for (std::int64_t p : {200, 201, 202}) b.apply(kAsk, p, 10);
    b.apply(kBid, 101, 77);
    b.apply(kAsk, 202, 5);
    EXPECT_EQ(view(b, kBid), (std::vector<PriceLevel>{{102, 10}, {101, 77}, {100, 10}}));
    EXPECT_EQ(view(b, kAsk), (std::vector<PriceLevel>{{200, 10}, {201, 10}, {202, 5}}));

    b.apply(kBid, 102, 0);  // best
    b.apply(kAsk, 201, 0);  // middle
    b.apply(kAsk, 202, -3);  // worst; a negative size removes too
    EXPECT_EQ(view(b, kBid), (std::vector<PriceLevel>{{101, 77}, {100, 10}}));
    EXPECT_EQ(view(b, kAsk), (std::vector<PriceLevel>{{200, 10}}));
    EXPECT_EQ(texts(b, kBid), (std::vector<std::string>{"1.01:0.0077", "1.00:0.0010"}));
}

TEST(OrderBook, RemovingAnAbsentLevelChangesNothing) {
    OrderBook b;
    b.apply(kBid, 100, 0);
    b.apply(kAsk, 100, 0);
    EXPECT_EQ(b.depth(kBid), 0u);
    EXPECT_EQ(b.depth(kAsk), 0u);
    b.apply(kBid, 100, 10);
    b.apply(kBid, 98, 10);
    b.apply(kAsk, 200, 10);
    b.apply(kBid, 99, 0);   // between two levels
    b.apply(kBid, 101, 0);  // better than the best
    b.apply(kBid, 97, 0);   // worse than the worst
    b.apply(kAsk, 100, 0);  // a bid's price, on the ask side
    EXPECT_EQ(view(b, kBid), (std::vector<PriceLevel>{{100, 10}, {98, 10}}));
    EXPECT_EQ(view(b, kAsk), (std::vector<PriceLevel>{{200, 10}}));
}

TEST(OrderBook, FullSideDropsTheFiftyFirstAndPushesTheWorstOut) {
    OrderBook b;
    for (std::int64_t i = 0; i < 50; ++i) {
        b.apply(kAsk, 1000 + i, 1);
        b.apply(kBid, 900 - i, 1);
    }
    ASSERT_EQ(b.depth(kAsk), tp::kMaxBookDepth);
    ASSERT_EQ(b.depth(kBid), tp::kMaxBookDepth);

    // Worse than the worst of a full side: not kept.
    b.apply(kAsk, 1050, 5);
    b.apply(kBid, 850, 5);
    EXPECT_EQ(b.depth(kAsk), 50u);
    EXPECT_EQ(b.levels(kAsk).back().price, 1049);
    EXPECT_EQ(b.levels(kBid).back().price, 851);

    // Better than the worst: kept, and the worst falls off.
    b.apply(kAsk, 999, 5);
    b.apply(kBid, 875, 0);     // makes room on the bid side...
    b.apply(kBid, 850, 5);     // ...so a worse level fits again
    b.apply(kBid, 875, 7);     // and this one pushes 850 out
    b.apply(kAsk, 1020, 9);    // a modify on a full side is a modify
    EXPECT_EQ(b.depth(kAsk), 50u);
    EXPECT_EQ(b.levels(kAsk).front().price, 999);
    EXPECT_EQ(b.levels(kAsk).back().price, 1048);
    EXPECT_EQ(b.levels(kAsk)[21].size, 9);
    EXPECT_EQ(b.depth(kBid), 50u);
    EXPECT_EQ(b.levels(kBid).back().price, 851);
    EXPECT_EQ(b.levels(kBid)[25].price, 875);
    EXPECT_EQ(b.levels(kBid)[25].size, 7);
    EXPECT_TRUE(best_first_unique(kAsk, view(b, kAsk)));
    EXPECT_TRUE(best_first_unique(kBid, view(b, kBid)));

    // A new best on a full side.
    b.apply(kBid, 901, 3);
    EXPECT_EQ(b.levels(kBid).front().price, 901);
    EXPECT_EQ(b.levels(kBid).back().price, 852);
}

TEST(OrderBook, TextsFollowEveryChange) {
    OrderBook b(2, 4);
    b.apply(kAsk, 6500000, 11000);
    const tp::BookLevel& l = b.levels(kAsk)[0];
    EXPECT_EQ(l.price_text(), "65000.00");
    EXPECT_EQ(l.size_text(), "1.1000");
    EXPECT_EQ(l.checksum_text(), "65000.00:1.1000");

    b.apply(kAsk, 6500000, 123456789);  // longer size
    EXPECT_EQ(b.levels(kAsk)[0].checksum_text(), "65000.00:12345.6789");
    b.apply(kAsk, 6500000, 5);  // shorter again
    EXPECT_EQ(b.levels(kAsk)[0].checksum_text(), "65000.00:0.0005");
    EXPECT_EQ(b.levels(kAsk)[0].price_text(), "65000.00");
    EXPECT_EQ(b.levels(kAsk)[0].size_text(), "0.0005");

    // Texts move with their levels.
    b.apply(kAsk, 6499999, 20000);
    b.apply(kAsk, 6500001, 30000);
    EXPECT_EQ(texts(b, kAsk), (std::vector<std::string>{"64999.99:2.0000", "65000.00:0.0005", "65000.01:3.0000"}));
    b.apply(kAsk, 6499999, 0);
    EXPECT_EQ(texts(b, kAsk), (std::vector<std::string>{"65000.00:0.0005", "65000.01:3.0000"}));

    // Extreme values fit the text.
    b.apply(kBid, INT64_MAX, INT64_MAX);
    EXPECT_EQ(b.levels(kBid)[0].checksum_text(), "92233720368547758.07:922337203685477.5807");
}

TEST(OrderBook, DecimalsAndClear) {
    OrderBook b(0, 8);
    EXPECT_EQ(b.price_decimals(), 0);
    EXPECT_EQ(b.size_decimals(), 8);
    b.apply(kBid, 3050, 150000000);
    EXPECT_EQ(texts(b, kBid), (std::vector<std::string>{"3050:1.50000000"}));
    b.clear();
    EXPECT_EQ(b.depth(kBid), 0u);
    EXPECT_EQ(b.depth(kAsk), 0u);
    EXPECT_EQ(b.checksum_string(), "|");
    b.set_decimals(2, 4);
    EXPECT_EQ(b.price_decimals(), 2);
    b.apply(kAsk, 305000, 15000);
    EXPECT_EQ(texts(b, kAsk), (std::vector<std::string>{"3050.00:1.5000"}));
    // On a non-empty book the texts are rewritten rather than left stale.
    b.set_decimals(1, 2);
    EXPECT_EQ(texts(b, kAsk), (std::vector<std::string>{"30500.0:150.00"}));
}

// The worked example of protocol/README.md ("Order books and trades"): keep these two in step.
TEST(OrderBookChecksum, ReadmeExample) {
    const OrderBook b = readme_book();
    EXPECT_EQ(b.checksum_string(), "65000.00:1.1000,65000.50:0.2000|64999.50:0.2500");
    EXPECT_EQ(b.checksum(), 2541449844u);  // Python: zlib.crc32(b"65000.00:1.1000,65000.50:0.2000|64999.50:0.2500")
    EXPECT_EQ(tp::checksum_of("65000.00:1.1000,65000.50:0.2000|64999.50:0.2500"), 2541449844u);
}

TEST(OrderBookChecksum, EmptySidesAreEmptyStrings) {
    OrderBook b;
    EXPECT_EQ(b.checksum_string(), "|");
    EXPECT_EQ(b.checksum(), 2343686810u);  // zlib.crc32(b"|")
    b.apply(kAsk, 6500000, 11000);
    EXPECT_EQ(b.checksum_string(), "65000.00:1.1000|");
    EXPECT_EQ(b.checksum(), 1928790874u);
    b.apply(kAsk, 6500000, 0);
    b.apply(kBid, 6499950, 2500);
    EXPECT_EQ(b.checksum_string(), "|64999.50:0.2500");
    EXPECT_EQ(b.checksum(), 3588854682u);
    EXPECT_EQ(tp::checksum_of(""), 0u);
}

TEST(OrderBookChecksum, CoversTheFirstTenLevelsOnly) {
    OrderBook b;
    std::string asks;
    std::string bids;
    for (std::int64_t i = 0; i < 30; ++i) {
        b.apply(kAsk, 6500000 + i * 50, 10000 + i);
        b.apply(kBid, 6499950 - i * 50, 20000 + i);
    }
    for (std::size_t i = 0; i < tp::kChecksumDepth; ++i) {
        if (i) asks += ',', bids += ',';
        asks += b.levels(kAsk)[i].checksum_text();
        bids += b.levels(kBid)[i].checksum_text();
    }
    EXPECT_EQ(b.checksum_string(), asks + "|" + bids);
    EXPECT_EQ(b.checksum_string().substr(0, 31), "65000.00:1.0000,65000.50:1.0001");
    EXPECT_EQ(b.checksum(), tp::checksum_of(asks + "|" + bids));
    const std::uint32_t before = b.checksum();
    b.apply(kAsk, 6500000 + 20 * 50, 1);  // the 21st ask: outside the checksum
    b.apply(kBid, 6499950 - 10 * 50, 1);  // the 11th bid: outside too
    EXPECT_EQ(b.checksum(), before);
    b.apply(kBid, 6499950 - 9 * 50, 1);  // the 10th bid: inside
    EXPECT_NE(b.checksum(), before);
}

TEST(OrderBookChecksum, LongTextsFit) {
    OrderBook b(18, 18);
    for (std::int64_t i = 0; i < 12; ++i) {
        b.apply(kAsk, INT64_MAX - i, INT64_MAX - i);
        b.apply(kBid, INT64_MIN + 1 + i, INT64_MAX - i);
    }
    const std::string s = b.checksum_string();
    // Asks "9.223372036854775807:9.223372036854775807" (41), bids with a "-" (42).
    EXPECT_EQ(s.size(), (10 * 41 + 9) + 1 + (10 * 42 + 9));
    EXPECT_EQ(b.checksum(), tp::checksum_of(s));
}

// The checksum is defined as zlib's crc32; it is computed with libdeflate's. Same function: check it
// on every length up to a few hundred bytes, at every alignment of the start.
TEST(OrderBookChecksum, SameAsZlibCrc32) {
    std::mt19937_64 rng(99);
    std::string text(600, '\0');
    for (char& c : text) c = static_cast<char>(rng());
    for (std::size_t offset = 0; offset < 16; ++offset) {
        for (std::size_t len = 0; len + offset <= text.size(); len += (len < 80 ? 1 : 7)) {
            const std::string_view piece(text.data() + offset, len);
            const auto expected = static_cast<std::uint32_t>(
                crc32(0L, reinterpret_cast<const Bytef*>(piece.data()), static_cast<uInt>(piece.size())));
            ASSERT_EQ(tp::checksum_of(piece), expected) << "offset " << offset << " length " << len;
        }
    }
    OrderBook b;
    for (std::int64_t i = 0; i < 30; ++i) {
        b.apply(kAsk, 6500000 + i * 50, 1 + static_cast<std::int64_t>(rng() % 100000));
        b.apply(kBid, 6499950 - i * 50, 1 + static_cast<std::int64_t>(rng() % 100000));
        const std::string s = b.checksum_string();
        ASSERT_EQ(b.checksum(),
                  static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()))));
    }
}

TEST(DiffView, NoChangeAppendsNothing) {
    OrderBook b;
    for (std::int64_t i = 0; i < 20; ++i) b.apply(kAsk, 100 + i, 5);
    const auto before = view(b, kAsk);
    std::vector<PriceLevel> out{{1, 1}};  // appends: what is there stays
    tp::diff_view(kAsk, before, b.levels(kAsk), 10, out);
    tp::diff_view(kAsk, before, b.levels(kAsk), 50, out);
    EXPECT_EQ(out, (std::vector<PriceLevel>{{1, 1}}));

    // A change below a depth-10 view: nothing for that view, the change for the deeper one.
    b.apply(kAsk, 115, 9);
    out.clear();
    tp::diff_view(kAsk, before, b.levels(kAsk), 10, out);
    EXPECT_TRUE(out.empty());
    tp::diff_view(kAsk, before, b.levels(kAsk), 50, out);
    EXPECT_EQ(out, (std::vector<PriceLevel>{{115, 9}}));
}

TEST(DiffView, SizeChange) {
    OrderBook b;
    for (std::int64_t i = 0; i < 5; ++i) b.apply(kBid, 100 - i, 5);
    const auto before = view(b, kBid);
    b.apply(kBid, 98, 6);
    std::vector<PriceLevel> out;
    tp::diff_view(kBid, before, b.levels(kBid), 10, out);
    EXPECT_EQ(out, (std::vector<PriceLevel>{{98, 6}}));
}

TEST(DiffView, RemovalBringsALevelUpFromBelow) {
    OrderBook b;
    for (std::int64_t i = 0; i < 15; ++i) b.apply(kBid, 100 - i, 10 + i);
    const auto before = view(b, kBid, 10);  // 100..91
    b.apply(kBid, 95, 0);
    std::vector<PriceLevel> out;
    tp::diff_view(kBid, before, b.levels(kBid), 10, out);
    // 95 removed, 90 (the 11th) enters the view: best first.
    EXPECT_EQ(out, (std::vector<PriceLevel>{{95, 0}, {90, 20}}));
}

TEST(DiffView, InsertionPushesALevelOutOfTheView) {
    OrderBook b;
    for (std::int64_t i = 0; i < 15; ++i) b.apply(kAsk, 200 + 2 * i, 7);
    const auto before = view(b, kAsk);  // deeper than the view: diff_view cuts it
    b.apply(kAsk, 203, 4);
    std::vector<PriceLevel> out;
    tp::diff_view(kAsk, before, b.levels(kAsk), 10, out);
    // 203 enters, 218 (the 10th before) leaves the depth-10 view.
    EXPECT_EQ(out, (std::vector<PriceLevel>{{203, 4}, {218, 0}}));
    out.clear();
    tp::diff_view(kAsk, before, b.levels(kAsk), 50, out);
    EXPECT_EQ(out, (std::vector<PriceLevel>{{203, 4}}));
}

TEST(DiffView, BothSidesAndEmptyStates) {
    OrderBook b;
    const auto bids0 = view(b, kBid);
    const auto asks0 = view(b, kAsk);
    b.apply(kBid, 99, 1);
    b.apply(kBid, 98, 2);
    b.apply(kAsk, 101, 3);
    std::vector<PriceLevel> bids;
    std::vector<PriceLevel> asks;
    tp::diff_view(kBid, bids0, b.levels(kBid), 10, bids);
    tp::diff_view(kAsk, asks0, b.levels(kAsk), 10, asks);
    EXPECT_EQ(bids, (std::vector<PriceLevel>{{99, 1}, {98, 2}}));
    EXPECT_EQ(asks, (std::vector<PriceLevel>{{101, 3}}));

    const auto bids1 = view(b, kBid);
    const auto asks1 = view(b, kAsk);
    b.clear();
    bids.clear();
    asks.clear();
    tp::diff_view(kBid, bids1, b.levels(kBid), 10, bids);
    tp::diff_view(kAsk, asks1, b.levels(kAsk), 10, asks);
    EXPECT_EQ(bids, (std::vector<PriceLevel>{{99, 0}, {98, 0}}));
    EXPECT_EQ(asks, (std::vector<PriceLevel>{{101, 0}}));
}

TEST(MergeLevels, NewestWinsOrderAndRemovalsKept) {
    std::vector<PriceLevel> bids{{105, 1}, {103, 0}, {101, 4}};
    const std::vector<PriceLevel> newer{{106, 2}, {103, 9}, {102, 0}, {101, 0}, {99, 5}};
    tp::merge_levels(kBid, bids, newer);
    EXPECT_EQ(bids, (std::vector<PriceLevel>{{106, 2}, {105, 1}, {103, 9}, {102, 0}, {101, 0}, {99, 5}}));

    std::vector<PriceLevel> asks{{200, 1}, {210, 2}};
    tp::merge_levels(kAsk, asks, std::vector<PriceLevel>{{205, 0}, {210, 3}, {220, 4}});
    EXPECT_EQ(asks, (std::vector<PriceLevel>{{200, 1}, {205, 0}, {210, 3}, {220, 4}}));

    // All duplicates: the hole is closed.
    std::vector<PriceLevel> same{{1, 1}, {2, 2}, {3, 3}};
    tp::merge_levels(kAsk, same, std::vector<PriceLevel>{{1, 0}, {2, 5}, {3, 6}});
    EXPECT_EQ(same, (std::vector<PriceLevel>{{1, 0}, {2, 5}, {3, 6}}));

    // Empty on either side.
    std::vector<PriceLevel> empty;
    tp::merge_levels(kAsk, empty, std::vector<PriceLevel>{{7, 1}});
    EXPECT_EQ(empty, (std::vector<PriceLevel>{{7, 1}}));
    tp::merge_levels(kAsk, empty, std::vector<PriceLevel>{});
    EXPECT_EQ(empty, (std::vector<PriceLevel>{{7, 1}}));

    // Newer entirely better, then entirely worse.
    std::vector<PriceLevel> mid{{50, 1}, {49, 1}};
    tp::merge_levels(kBid, mid, std::vector<PriceLevel>{{60, 2}, {55, 2}});
    tp::merge_levels(kBid, mid, std::vector<PriceLevel>{{40, 3}});
    EXPECT_EQ(mid, (std::vector<PriceLevel>{{60, 2}, {55, 2}, {50, 1}, {49, 1}, {40, 3}}));
}

namespace {

/// The reference: a std::map per side with the same rule as the book (a side keeps its best 50).
struct ReferenceBook {
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;

    template <typename M>
    static void apply_to(M& m, std::int64_t price, std::int64_t size) {
        if (size <= 0) {
            m.erase(price);
            return;
        }
        m[price] = size;
        if (m.size() > tp::kMaxBookDepth) m.erase(std::prev(m.end()));
    }
    void apply(BookSide s, std::int64_t price, std::int64_t size) {
        if (s == kBid) {
            apply_to(bids, price, size);
        } else {
            apply_to(asks, price, size);
        }
    }
    std::vector<PriceLevel> side(BookSide s) const {
        std::vector<PriceLevel> out;
        if (s == kBid) {
            for (auto [p, q] : bids) out.push_back({p, q});
        } else {
            for (auto [p, q] : asks) out.push_back({p, q});
        }
        return out;
    }
    std::string checksum_string(int pd, int sd) const {
        std::string out;
        auto add = [&](const std::vector<PriceLevel>& levels) {
            for (std::size_t i = 0; i < levels.size() && i < tp::kChecksumDepth; ++i) {
                char buf[2 * tp::kMaxDecimalChars];
                if (i) out += ',';
                out.append(buf, tp::format_decimal(buf, levels[i].price, pd));
                out += ':';
                out.append(buf, tp::format_decimal(buf, levels[i].size, sd));
            }
        };
        add(side(kAsk));
        out += '|';
        add(side(kBid));
        return out;
    }
};

}  // namespace

// Random changes against the reference; every view's delta takes the client's copy of the view to
// the new view, and consecutive deltas merged once do the same as applied in turn.
TEST(OrderBookProperty, RandomChangesDiffsAndMerges) {
    std::mt19937_64 rng(20261202);
    OrderBook book(2, 4);
    ReferenceBook ref;
    constexpr std::int64_t kMid = 6500000;
    constexpr std::size_t kDepths[] = {tp::kBookViewDepth, tp::kBook50ViewDepth};

    // Per view depth and side: the client's view, the view where the current merge window began,
    // and the merged delta since then.
    struct ViewState {
        std::vector<PriceLevel> client;
        std::vector<PriceLevel> window_start;
        std::vector<PriceLevel> merged;
    };
    ViewState states[2][2];
    std::size_t window_left = 0;
    std::size_t nonempty_deltas = 0;
    std::size_t merged_windows = 0;
    std::size_t full_sides = 0;
    std::size_t thin_sides = 0;

    for (int step = 0; step < 30000; ++step) {
        const BookSide s = (rng() & 1) ? kAsk : kBid;
        const auto& levels = book.levels(s);
        std::int64_t price = 0;
        std::int64_t size = 0;
        // Phases that fill the sides (to 50, where new levels push the worst out or are not kept)
        // alternate with phases that thin them (where levels come up into the views from below).
        const bool filling = (step / 3000) % 2 == 0;
        const unsigned op = rng() % 10;
        if (op < (filling ? 1u : 4u) && !levels.empty()) {
            // Remove an existing level at a random rank (most removals of random prices miss).
            price = levels[rng() % levels.size()].price;
        } else if (op < 5 && !levels.empty()) {
            // Modify an existing level.
            price = levels[rng() % levels.size()].price;
            size = static_cast<std::int64_t>(1 + rng() % 50000);
        } else {
            // A random price within 90 ticks of the mid (more than 50 per side: pushes levels out).
            const auto off = static_cast<std::int64_t>(1 + rng() % 90);
            price = s == kBid ? kMid - off : kMid + off;
            size = (rng() % (filling ? 16 : 4) == 0) ? 0 : static_cast<std::int64_t>(1 + rng() % 50000);
            if (rng() % 50 == 0) size = -1;
        }

        std::vector<PriceLevel> before[2][2];
        for (int d = 0; d < 2; ++d) {
            for (int side_i = 0; side_i < 2; ++side_i) {
                before[d][side_i] = view(book, static_cast<BookSide>(side_i), kDepths[d]);
            }
        }
        if (window_left == 0) {
            window_left = 1 + rng() % 6;
            for (int d = 0; d < 2; ++d) {
                for (int side_i = 0; side_i < 2; ++side_i) {
                    states[d][side_i].window_start = before[d][side_i];
                    states[d][side_i].merged.clear();
                }
            }
        }

        book.apply(s, price, size);
        ref.apply(s, price, size);
        full_sides += book.depth(s) == tp::kMaxBookDepth;
        thin_sides += book.depth(s) < tp::kBookViewDepth;
        ASSERT_EQ(view(book, kBid), ref.side(kBid)) << "step " << step;
        ASSERT_EQ(view(book, kAsk), ref.side(kAsk)) << "step " << step;
        ASSERT_EQ(book.checksum_string(), ref.checksum_string(2, 4)) << "step " << step;
        ASSERT_EQ(book.checksum(), tp::checksum_of(book.checksum_string()));
        for (const BookSide side : {kBid, kAsk}) {
            for (const auto& l : book.levels(side)) {
                char buf[2 * tp::kMaxDecimalChars];
                std::string expected(buf, tp::format_decimal(buf, l.price, 2));
                expected += ':';
                expected.append(buf, tp::format_decimal(buf, l.size, 4));
                ASSERT_EQ(l.checksum_text(), expected) << "step " << step;
            }
        }

        --window_left;
        for (int d = 0; d < 2; ++d) {
            for (int side_i = 0; side_i < 2; ++side_i) {
                const auto side = static_cast<BookSide>(side_i);
                ViewState& st = states[d][side_i];
                const auto after = view(book, side, kDepths[d]);
                if (step == 0) st.client = before[d][side_i];

                std::vector<PriceLevel> delta;
                tp::diff_view(side, before[d][side_i], book.levels(side), kDepths[d], delta);
                ASSERT_TRUE(best_first_unique(side, delta)) << "step " << step;
                ASSERT_EQ(delta.empty(), after == before[d][side_i]) << "step " << step;
                nonempty_deltas += !delta.empty();

                apply_delta(side, st.client, delta);
                ASSERT_EQ(st.client, after) << "step " << step << " depth " << kDepths[d];

                tp::merge_levels(side, st.merged, delta);
                ASSERT_TRUE(best_first_unique(side, st.merged)) << "step " << step;
                if (window_left == 0) {
                    std::vector<PriceLevel> once = st.window_start;
                    apply_delta(side, once, st.merged);
                    ASSERT_EQ(once, after) << "step " << step << " depth " << kDepths[d];
                    ++merged_windows;
                }
            }
        }
    }
    // The walk must have exercised full sides and plenty of deltas.
    EXPECT_GT(nonempty_deltas, 20000u);
    EXPECT_GT(merged_windows, 10000u);
    EXPECT_GT(full_sides, 1000u);
    EXPECT_GT(thin_sides, 100u);
}
