// Where JetStream keeps the latest values (tickgate-feed --stream-storage), against a real
// nats-server: the stream is made with the storage asked for; an existing stream keeps its own
// (JetStream cannot change it) and says so; with memory a nats-server restart loses what the
// stream held, and the running publisher fills it again, so a gateway that starts afterwards still
// gets every topic's latest value; with file the values outlive the restart by themselves.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "feeds/nats_bus.hpp"
#include "tests/feeds/nats_processes.hpp"

using namespace std::chrono_literals;
using tickgate::feeds::ensure_last_value_stream;
using tickgate::feeds::StreamEnsured;
using tickgate::feeds::StreamSpec;
using tickgate::feeds::StreamStorage;
using tickgate::feeds::testing::ChildProcess;
using tickgate::feeds::testing::FeedPublisher;
using tickgate::feeds::testing::NatsServer;
using tickgate::feeds::testing::temp_path;

namespace {

const std::string kStream = tickgate::feeds::stream_name_for_prefix("md");

// A plain nats.c connection, retried while the server comes up (or back).
class Connection {
public:
    explicit Connection(const NatsServer& nats) : Connection(nats.servers()) {}
    explicit Connection(const std::string& servers) {
        const std::string url = "nats://" + servers;
        for (int i = 0; i < 300 && natsConnection_ConnectTo(&nc_, url.c_str()) != NATS_OK; ++i)
            std::this_thread::sleep_for(10ms);
    }
    ~Connection() {
        if (nc_) natsConnection_Destroy(nc_);
    }
    natsConnection* get() const { return nc_; }

private:
    natsConnection* nc_ = nullptr;
};

// The stream's storage as JetStream reports it; "none" when there is no such stream.
std::string storage_of(natsConnection* nc) {
    jsCtx* js = nullptr;
    if (natsConnection_JetStream(&js, nc, nullptr) != NATS_OK) return "no JetStream";
    jsStreamInfo* si = nullptr;
    std::string out = "none";
    if (js_GetStreamInfo(&si, js, kStream.c_str(), nullptr, nullptr) == NATS_OK && si && si->Config)
        out = si->Config->Storage == js_MemoryStorage ? "memory" : "file";
    if (si) jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    return out;
}

// The topics whose latest value the stream holds, read as a gateway reads them at start.
std::set<std::string> stored_topics(natsConnection* nc) {
    std::set<std::string> topics;
    std::size_t count = 0;
    std::string error;
    tickgate::feeds::read_last_values(nc, "md.>", 5s, [&](std::string_view subject, std::string_view) {
        topics.emplace(subject.substr(3));
    }, count, error);
    return topics;
}

bool eventually(const auto& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

// The running publisher made the stream again after a reconnect, in memory, and it holds the
// latest value of each of its `topics` topics again.
template <class Publisher>
void expect_made_again_in_memory(natsConnection* nc, const Publisher& publisher, std::size_t topics) {
    EXPECT_TRUE(eventually([&] { return storage_of(nc) == "memory" && stored_topics(nc).size() == topics; }, 15s))
        << publisher.log();
    EXPECT_NE(publisher.log().find("was missing after reconnecting; created it again"), std::string::npos)
        << publisher.log();
}

}  // namespace

TEST(NatsStreamStorage, TheStreamIsMadeWithTheStorageAskedForAndAnExistingOneKeepsItsOwn) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    Connection c(nats);
    ASSERT_NE(c.get(), nullptr);
    StreamEnsured ensured;
    std::string error;
    ASSERT_TRUE(ensure_last_value_stream(c.get(), kStream, "md", StreamSpec{1, StreamStorage::memory}, ensured, error))
        << error;
    EXPECT_TRUE(ensured.created);
    EXPECT_FALSE(ensured.storage_kept);
    EXPECT_EQ(storage_of(c.get()), "memory");

    // Asked for file (and a longer history) on the memory stream: the history changes, the storage
    // cannot, and the caller learns it.
    ASSERT_TRUE(ensure_last_value_stream(c.get(), kStream, "md", StreamSpec{5, StreamStorage::file}, ensured, error))
        << error;
    EXPECT_FALSE(ensured.created);
    EXPECT_TRUE(ensured.updated);
    EXPECT_TRUE(ensured.storage_kept);
    EXPECT_EQ(storage_of(c.get()), "memory");

    // The same spec again: nothing to change, nothing to say.
    ASSERT_TRUE(ensure_last_value_stream(c.get(), kStream, "md", StreamSpec{5, StreamStorage::memory}, ensured, error))
        << error;
    EXPECT_FALSE(ensured.created || ensured.updated || ensured.storage_kept);
}

TEST(NatsStreamStorage, APublisherAskingForMemoryOnAFileStreamWarnsAndKeepsPublishing) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    {
        FeedPublisher first(nats, {"--symbols", "3", "--rate", "50"});
        ASSERT_TRUE(first.wait_serving()) << first.log();
        EXPECT_NE(first.log().find("1 messages per subject, file storage"), std::string::npos) << first.log();
        ASSERT_EQ(first.stop(), 0);
    }
    FeedPublisher second(nats, {"--symbols", "3", "--rate", "50", "--stream-storage", "memory"});
    ASSERT_TRUE(second.wait_serving()) << second.log();
    EXPECT_NE(second.log().find("keeps the storage it was created with, not --stream-storage memory"), std::string::npos)
        << second.log();
    Connection c(nats);
    EXPECT_EQ(storage_of(c.get()), "file");
    EXPECT_TRUE(eventually([&] { return stored_topics(c.get()).size() == 3; }, 10s)) << "still publishing";
}

TEST(NatsStreamStorage, WithMemoryARestartedServerIsFilledAgainByTheRunningPublisher) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    FeedPublisher publisher(nats, {"--symbols", "4", "--rate", "8", "--stream-storage", "memory"});
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    EXPECT_NE(publisher.log().find("1 messages per subject, memory storage"), std::string::npos) << publisher.log();
    {
        Connection c(nats);
        EXPECT_EQ(storage_of(c.get()), "memory");
        ASSERT_TRUE(eventually([&] { return stored_topics(c.get()).size() == 4; }, 10s));
    }

    nats.stop();
    nats.start();
    ASSERT_TRUE(nats.wait_ready());
    Connection c(nats);
    ASSERT_NE(c.get(), nullptr);
    // Every topic comes back, from the publisher's next update of it, not from the store;
    // nats-server 2.9 forgets a memory stream altogether.
    expect_made_again_in_memory(c.get(), publisher, 4);
}

// A publisher whose check of the stream fails after a reconnect (the server came back without
// JetStream) keeps trying: once JetStream is on again, with no reconnect to set it off, the
// stream is made again. nats-server runs from a config file here, so JetStream can be switched on
// by a reload (SIGHUP) rather than a restart.
TEST(NatsStreamStorage, AStreamCheckThatFailsAfterAReconnectIsTriedAgainUntilItWorks) {
    const int port = tickgate::feeds::testing::free_port();
    const std::string servers = "127.0.0.1:" + std::to_string(port);
    const std::string store = temp_path("reload-store"), conf = temp_path("nats.conf");
    const auto write_conf = [&](bool jetstream) {
        std::ofstream f(conf, std::ios::trunc);
        f << "listen: " << servers << "\n";
        if (jetstream) f << "jetstream { store_dir: \"" << store << "\" }\n";
    };
    ChildProcess nats, publisher;
    write_conf(true);
    nats.start({"/usr/sbin/nats-server", "-c", conf}, temp_path("nats-reload.log"));
    ASSERT_FALSE(nats.wait_for_log("Server is ready", 10s).empty()) << nats.log();
    publisher.start({TICKGATE_FEED_BINARY, "--nats", servers, "--metrics-listen", "127.0.0.1:0", "--symbols", "4",
                     "--rate", "20", "--stream-storage", "memory"},
                    temp_path("feed-reload.log"));
    ASSERT_FALSE(publisher.wait_for_log("serving publish requests", 15s).empty()) << publisher.log();

    nats.stop();
    write_conf(false);
    nats.start({"/usr/sbin/nats-server", "-c", conf}, temp_path("nats-reload.log"));
    ASSERT_FALSE(nats.wait_for_log("Server is ready", 10s).empty()) << nats.log();
    ASSERT_FALSE(publisher.wait_for_log("trying again every 2 s", 15s).empty()) << publisher.log();

    write_conf(true);
    nats.signal(SIGHUP);
    ASSERT_FALSE(nats.wait_for_log("Reloaded server configuration", 10s).empty()) << nats.log();
    Connection c(servers);
    ASSERT_NE(c.get(), nullptr);
    expect_made_again_in_memory(c.get(), publisher, 4);
    EXPECT_EQ(publisher.log().find("NATS reconnected", publisher.log().find("trying again every 2 s")), std::string::npos)
        << "no second reconnect set it off:\n" << publisher.log();
    publisher.stop();
    nats.stop();
    std::filesystem::remove_all(store);
}
