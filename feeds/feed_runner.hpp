#pragma once
// The feeds of one program running into its ring: builds an adapter per --feed spec, runs each on a
// thread of its own into one UpdateChannel, and stops them. tickgate (the broadcast engine drains
// the channel) and tickgate-feed (the publish loop drains it) run their feeds through this.

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "feeds/feed_adapter.hpp"
#include "feeds/update_channel.hpp"

namespace tickgate::feeds {

class FeedRunner {
public:
    explicit FeedRunner(std::size_t ring_capacity);
    /// Stops and joins the feed threads.
    ~FeedRunner();
    FeedRunner(const FeedRunner&) = delete;
    FeedRunner& operator=(const FeedRunner&) = delete;

    /// One adapter per spec, in order (the spec's position is its feed index). On a spec the
    /// factory refuses: false, `error` "--feed SPEC: why" and `exit_code` 2 for a malformed spec
    /// or 1 for a file that cannot be read (a start-up failure rather than a bad flag).
    bool create(const std::vector<std::string>& specs, const SimulatorOptions& sim, const NatsOptions& nats,
                std::string& error, int& exit_code);
    /// One thread per adapter, each running it into channel() until stopped.
    void start();
    /// Asks every feed thread to stop (a feed waiting on a full lane gives up); does not wait.
    void request_stop() noexcept;
    /// Waits for the feed threads (after request_stop()).
    void join();

    UpdateChannel& channel() noexcept { return channel_; }
    const UpdateChannel& channel() const noexcept { return channel_; }
    const std::vector<std::unique_ptr<FeedAdapter>>& adapters() const noexcept { return adapters_; }

private:
    UpdateChannel channel_;
    std::vector<std::unique_ptr<FeedAdapter>> adapters_;
    std::vector<std::jthread> threads_;
};

}  // namespace tickgate::feeds
