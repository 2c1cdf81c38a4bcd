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

// Each change builds a dozen of these views: reserved at once, they cost one allocation each
// instead of seven growths (allocation was most of this target's time under ASan).
std::vector<tp::PriceLevel> top(const Model& m, std::size_t depth) {
    std::vector<tp::PriceLevel> out;
    out.reserve(std::min(depth, m.size()));
    for (auto it = m.begin(); it != m.end() && out.size() < depth; ++it) out.push_back({it->first, it->second});
    return out;
}

std::vector<tp::PriceLevel> top(const tp::OrderBook& b, tp::BookSide s, std::size_t depth) {
    std::vector<tp::PriceLevel> out;
    out.reserve(std::min(depth, b.levels(s).size()));
    for (const auto& l : b.levels(s)) {
        if (out.size() == depth) break;
        out.push_back({l.price, l.size});
    }
    return out;
}

/// Applies changes (best first) to a view (best first): what a client does with a delta.
void apply_changes(std::vector<tp::PriceLevel>& view, const std::vector<tp::PriceLevel>& changes, bool bids) {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t price_decimals = data[0] % 9, size_decimals = (data[0] / 9) % 9;
    tp::OrderBook book(price_decimals, size_decimals);
    Model bids(std::greater<>{}), asks(std::less<>{});
    std::vector<tp::PriceLevel> pending[2];  // merged diffs of the depth-10 view since `merged_from`
    std::vector<tp::PriceLevel> merged_from[2] = {{}, {}};

    // At most 1,000 changes an input: long enough to fill and churn both sides, short enough to run often.
    for (std::size_t i = 1; i + 3 <= size && i < 1 + 3 * 1000; i += 3) {
        const bool ask = data[i] & 0x80;
        const auto side = ask ? tp::BookSide::ask : tp::BookSide::bid;
        const std::int64_t price = 1000 + (data[i] & 0x7f);  // 128 prices: full sides and churn
        const std::int64_t qty = data[i + 1] < 64 ? 0 : static_cast<std::int64_t>(data[i + 2]) * 37 + 1;
        Model& model = ask ? asks : bids;

        const auto before10 = top(book, side, 10), before50 = top(book, side, 50);
        book.apply(side, price, qty);
        // The book keeps its best 50: a new level worse than a full side's worst is not kept, a
        // better one pushes the worst out for good. The model does the same by cutting to 50.
        if (qty == 0)
            model.erase(price);
        else
            model[price] = qty;
        if (model.size() > tp::kMaxBookDepth) {
            auto it = model.begin();
            std::advance(it, tp::kMaxBookDepth);
            model.erase(it, model.end());
        }
        FUZZ_CHECK(top(book, side, 64) == top(model, 64));

        for (const std::size_t depth : {std::size_t{10}, std::size_t{50}}) {
            std::vector<tp::PriceLevel> diff;
            tp::diff_view(side, depth == 10 ? before10 : before50, book.levels(side), depth, diff);
            auto view = depth == 10 ? before10 : before50;
            apply_changes(view, diff, !ask);
            FUZZ_CHECK(view == top(book, side, depth));
            if (depth == 10) {
                auto& p = pending[ask];
                tp::merge_levels(side, p, diff);
                auto merged_view = merged_from[ask];
                apply_changes(merged_view, p, !ask);
                FUZZ_CHECK(merged_view == top(book, side, 10));
                if (data[i + 1] % 7 == 0) {  // the client's merged delta went out: start again
                    p.clear();
                    merged_from[ask] = top(book, side, 10);
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
