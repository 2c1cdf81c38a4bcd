// Order books over wss:// with the Beast client and the C++ reference book (support/reference_book.hpp):
// the simulator's books through two gateway workers, every chain and checksum verified, a pattern
// over a held book delivering it once, and a resubscribe starting over from a new snapshot.
#include <gtest/gtest.h>

#include <map>

#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/json.hpp"
#include "support/reference_book.hpp"

namespace e2e {
namespace {

using Clock = std::chrono::steady_clock;

struct BookStreams {
    std::map<std::string, ReferenceBook> books;
    std::map<std::string, int> snapshots;
    std::map<std::string, std::uint64_t> trade_seq;
    // Per book topic, the checksum string the client's book had after each seq it received.
    std::map<std::string, std::map<std::uint64_t, std::string>> states;
    int trades = 0;

    /// Feeds one message; a failure message on the first broken book or trade.
    ::testing::AssertionResult take(const std::string& text) {
        const auto doc = parse_json(text);
        if (doc.HasParseError()) return ::testing::AssertionFailure() << "not JSON: " << text;
        const std::string type = json_string(doc, "type"), topic = json_string(doc, "topic");
        if (type == "book" || type == "book50") {
            if (json_bool(doc, "snapshot") == true) ++snapshots[topic];
            auto& book = books[topic];
            if (!book.apply(text)) return ::testing::AssertionFailure() << topic << ": " << book.error();
            states[topic][book.seq()] = book.checksum_string();
            const std::size_t depth = type == "book" ? 10 : 50;
            if (book.bid_depth() > depth || book.ask_depth() > depth)
                return ::testing::AssertionFailure() << topic << " holds more than " << depth << " levels";
        } else if (type == "trade") {
            const auto seq = json_int(doc, "seq");
            if (!seq || !json_int(doc, "trade_id")) return ::testing::AssertionFailure() << "bad trade: " << text;
            if (trade_seq.count(topic) && static_cast<std::uint64_t>(*seq) != trade_seq[topic] + 1)
                return ::testing::AssertionFailure() << topic << " seq " << *seq << " after " << trade_seq[topic];
            trade_seq[topic] = static_cast<std::uint64_t>(*seq);
            ++trades;
        }
        return ::testing::AssertionSuccess();
    }
};

::testing::AssertionResult read_for(WssClient& client, BookStreams& streams, Clock::duration d) {
    for (const auto end = Clock::now() + d; Clock::now() < end;) {
        const auto text = client.read_text(1s);
        if (!text) return ::testing::AssertionFailure() << "stream ended: " << client.error();
        if (auto r = streams.take(*text); !r) return r;
    }
    return ::testing::AssertionSuccess();
}

bool send_and_wait(WssClient& client, BookStreams& streams, const std::string& request, const std::string& ack_type) {
    if (!client.send_text(request)) return false;
    for (const auto end = Clock::now() + 3s; Clock::now() < end;) {
        const auto text = client.read_text(1s);
        if (!text) return false;
        if (!streams.take(*text)) return false;
        if (json_string(parse_json(*text), "type") == ack_type) return true;
    }
    return false;
}

TEST(Books, EveryDeltaChainsAndChecksumsAcrossPatternsAndResubscribeOnTwoWorkers) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "4", "--rate", "400", "--book-rate", "2000", "--trade-rate", "400", "--threads", "2"}))
        << gw.stderr_text();
    // Books exist once the simulator's first changes went through.
    WssClient probe;
    ASSERT_TRUE(probe.connect(gw.ws_port())) << probe.error();
    bool listed = false;
    for (const auto end = Clock::now() + 10s; !listed && Clock::now() < end;) {
        probe.send_text(R"({"op":"list","id":1})");
        while (const auto text = probe.read_text(500ms)) {
            if (text->find(R"("type":"topics")") == std::string::npos) continue;
            listed = text->find("\"book50.XRP-USD\"") != std::string::npos && text->find("\"trade.XRP-USD\"") != std::string::npos;
            break;
        }
    }
    ASSERT_TRUE(listed) << "book and trade topics of every symbol listed";

    // Clients on both workers (connections alternate between them).
    std::vector<std::unique_ptr<WssClient>> clients;
    std::vector<BookStreams> streams(4);
    for (int i = 0; i < 4; ++i) {
        clients.push_back(std::make_unique<WssClient>());
        ASSERT_TRUE(clients.back()->connect(gw.ws_port())) << clients.back()->error();
        ASSERT_TRUE(send_and_wait(*clients.back(), streams[i],
                                  R"({"op":"subscribe","id":1,"topics":["book.BTC-USD","book50.ETH-USD","trade.*"]})",
                                  "subscribed"));
    }
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(read_for(*clients[i], streams[i], 300ms)) << "client " << i;
    // A pattern over a held book: no second snapshot, no message twice (the chain would break).
    ASSERT_TRUE(send_and_wait(*clients[0], streams[0], R"({"op":"subscribe","id":2,"topics":["book.*"]})", "subscribed"));
    ASSERT_TRUE(read_for(*clients[0], streams[0], 500ms));
    // Unsubscribe and resubscribe: a new snapshot, and the chain goes on from it.
    ASSERT_TRUE(send_and_wait(*clients[1], streams[1], R"({"op":"unsubscribe","id":3,"topics":["book.BTC-USD"]})",
                              "unsubscribed"));
    ASSERT_TRUE(send_and_wait(*clients[1], streams[1], R"({"op":"subscribe","id":4,"topics":["book.BTC-USD"]})",
                              "subscribed"));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(read_for(*clients[i], streams[i], 700ms)) << "client " << i;

    for (int i = 0; i < 4; ++i) {
        auto& s = streams[i];
        EXPECT_GT(s.books["book.BTC-USD"].messages(), 20u) << "client " << i;
        EXPECT_GT(s.books["book50.ETH-USD"].messages(), 20u) << "client " << i;
        EXPECT_EQ(s.snapshots["book.BTC-USD"], i == 1 ? 2 : 1) << "client " << i;
        EXPECT_EQ(s.books["book50.ETH-USD"].ask_depth(), 50u);
        EXPECT_GT(s.trades, 10) << "client " << i;
    }
    EXPECT_EQ(streams[0].snapshots["book.SOL-USD"], 1) << "the pattern brought the other books";
    // Every client, whichever worker it is on, held the same book after the same seq, at every
    // seq both received (they read for the same spans, so most of them).
    for (const char* topic : {"book50.ETH-USD", "book.BTC-USD"}) {
        const auto& a = streams[0].states[topic];
        for (int i = 1; i < 4; ++i) {
            std::size_t common = 0;
            for (const auto& [seq, state] : streams[i].states[topic]) {
                auto it = a.find(seq);
                if (it == a.end()) continue;
                ++common;
                EXPECT_EQ(it->second, state) << topic << " client " << i << " seq " << seq;
            }
            EXPECT_GT(common, 20u) << topic << " client " << i << ": seqs both received";
        }
    }
}

}  // namespace
}  // namespace e2e
