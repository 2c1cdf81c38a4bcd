// The order book (protocol/model/order_book) on arbitrary sequences of level changes, against a
// std::map model: after every change both hold the same best 50 levels per side, each level's text
// is its values written with the book's decimals, the checksum string is built from them as
// protocol/README.md says, and the views' diffs and a merge of consecutive diffs, applied to the
// views before, give the views after. Bytes in, three per change: side and price, size.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "protocol/decimal.hpp"
#include "protocol/model/order_book.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tickgate::protocol;

namespace {

using Model = std::map<std::int64_t, std::int64_t, std::function<bool(std::int64_t, std::int64_t)>>;
using View = std::vector<tp::PriceLevel>;

// The harness's own work (the model, the views, the comparisons) is most of an execution: it is
// left out of the coverage instrumentation (harness.ignorelist), and its views are reused across
// changes and inputs (resize() keeps the capacity) because allocation under ASan was most of the rest.

void top(const Model& m, std::size_t depth, View& out) {
    out.resize(std::min(depth, m.size()));
    auto it = m.begin();
    for (auto& l : out) {
        l = {it->first, it->second};
        ++it;
    }
}

void top(const tp::OrderBook& b, tp::BookSide s, std::size_t depth, View& out) {
    const auto levels = b.levels(s);
    out.resize(std::min(depth, levels.size()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = {levels[i].price, levels[i].size};
}

/// Applies changes (best first) to a view (best first): what a client does with a delta.
void apply_changes(View& view, const View& changes, bool bids) {
    for (const auto& c : changes) {
        auto it = view.begin();
        while (it != view.end() && (bids ? it->price > c.price : it->price < c.price)) ++it;
        if (it != view.end() && it->price == c.price) {
            if (c.size == 0)
                view.erase(it);
            else
                it->size = c.size;
        } else if (c.size != 0) {
            view.insert(it, c);
        }
    }
}

/// The book's side against the model's, cut to 50 as the book cuts itself.
bool matches_model(const tp::OrderBook& book, tp::BookSide side, Model& model, std::int64_t price,
                   std::int64_t qty, View& a, View& b) {
    if (qty == 0)
        model.erase(price);
    else
        model[price] = qty;
    if (model.size() > tp::kMaxBookDepth) {
        auto it = model.begin();
        std::advance(it, tp::kMaxBookDepth);
        model.erase(it, model.end());
    }
    top(book, side, 64, a);
    top(model, 64, b);
    return a == b;
}

/// Buffers reused by every change of every input.
struct Scratch {
    View before10, before50, diff, view, expected, merged_view;
    View pending[2];  // merged diffs of the depth-10 view since `merged_from`
    View merged_from[2];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t price_decimals = data[0] % 9, size_decimals = (data[0] / 9) % 9;
    tp::OrderBook book(price_decimals, size_decimals);
    Model bids(std::greater<>{}), asks(std::less<>{});
    static Scratch s;
    for (int a = 0; a < 2; ++a) {
        s.pending[a].clear();
        s.merged_from[a].clear();
    }

    // At most 300 changes an input (901 bytes): enough to fill both sides past the book's 50 levels
    // (128 prices, a quarter of changes removals) and churn them; the cost of an execution is the
    // number of changes, and longer inputs only repeat the same paths more slowly.
    for (std::size_t i = 1; i + 3 <= size && i < 1 + 3 * 300; i += 3) {
        const bool ask = data[i] & 0x80;
        const auto side = ask ? tp::BookSide::ask : tp::BookSide::bid;
        const std::int64_t price = 1000 + (data[i] & 0x7f);  // 128 prices: full sides and churn
        const std::int64_t qty = data[i + 1] < 64 ? 0 : static_cast<std::int64_t>(data[i + 2]) * 37 + 1;

        top(book, side, 10, s.before10);
        top(book, side, 50, s.before50);
        book.apply(side, price, qty);
        // The book keeps its best 50: a new level worse than a full side's worst is not kept, a
        // better one pushes the worst out for good. The model does the same by cutting to 50.
        FUZZ_CHECK(matches_model(book, side, ask ? asks : bids, price, qty, s.view, s.expected));

        for (const std::size_t depth : {std::size_t{10}, std::size_t{50}}) {
            const View& before = depth == 10 ? s.before10 : s.before50;
            s.diff.clear();
            tp::diff_view(side, before, book.levels(side), depth, s.diff);
            s.view.assign(before.begin(), before.end());
            apply_changes(s.view, s.diff, !ask);
            top(book, side, depth, s.expected);
            FUZZ_CHECK(s.view == s.expected);
            if (depth == 10) {
                auto& p = s.pending[ask];
                tp::merge_levels(side, p, s.diff);
                s.merged_view.assign(s.merged_from[ask].begin(), s.merged_from[ask].end());
                apply_changes(s.merged_view, p, !ask);
                FUZZ_CHECK(s.merged_view == s.expected);
                if (data[i + 1] % 7 == 0) {  // the client's merged delta went out: start again
                    p.clear();
                    s.merged_from[ask] = s.expected;
                }
            }
        }
    }

    for (const auto side : {tp::BookSide::ask, tp::BookSide::bid}) {
        for (const auto& l : book.levels(side)) {
            char p[tp::kMaxDecimalChars], q[tp::kMaxDecimalChars];
            const std::string text = std::string(p, tp::format_decimal(p, l.price, price_decimals)) + ":" +
                                     std::string(q, tp::format_decimal(q, l.size, size_decimals));
            FUZZ_CHECK(l.checksum_text() == text);
        }
    }
    std::string expected;
    for (const auto side : {tp::BookSide::ask, tp::BookSide::bid}) {
        if (side == tp::BookSide::bid) expected += '|';
        std::size_t n = 0;
        for (const auto& l : book.levels(side)) {
            if (n == tp::kChecksumDepth) break;
            if (n++) expected += ',';
            expected += l.checksum_text();
        }
    }
    FUZZ_CHECK(book.checksum_string() == expected);
    FUZZ_CHECK(book.checksum() == tp::checksum_of(expected));
    return 0;
}
