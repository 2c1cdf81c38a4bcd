#include "feeds/feed_runner.hpp"

#include <pthread.h>

#include <string>

namespace tickgate::feeds {

FeedRunner::FeedRunner(std::size_t ring_capacity) : channel_(ring_capacity) {}

FeedRunner::~FeedRunner() {
    request_stop();
    join();
}

bool FeedRunner::create(const std::vector<std::string>& specs, const SimulatorOptions& sim, const NatsOptions& nats,
                        std::string& error, int& exit_code) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
        auto adapter = make_feed(specs[i], sim, nats, static_cast<std::uint16_t>(i), error);
        if (!adapter) {
            exit_code = error.rfind("cannot read", 0) == 0 ? 1 : 2;
            error = "--feed " + specs[i] + ": " + error;
            return false;
        }
        adapters_.push_back(std::move(adapter));
    }
    return true;
}

void FeedRunner::start() {
    for (std::size_t i = 0; i < adapters_.size(); ++i)
        threads_.emplace_back([a = adapters_[i].get(), ch = &channel_, i](std::stop_token stop) {
            // Named for top -H, perf and gdb, as the workers are.
            pthread_setname_np(pthread_self(), ("feed-" + std::to_string(i)).c_str());
            a->run(stop, *ch);
        });
}

void FeedRunner::request_stop() noexcept {
    for (auto& t : threads_) t.request_stop();
}

void FeedRunner::join() {
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

}  // namespace tickgate::feeds
