#pragma once
// An operator's announcement to this gateway's clients, whoever asks for it: POST /api/broadcast
// (gateway/admin/), or another gateway's announcement arriving over a bus. Encoded once per wire
// protocol, handed to every worker, counted.

#include <cstddef>
#include <functional>
#include <span>

#include "protocol/model/published_message.hpp"

namespace tickgate::gateway {

class Worker;

/// Queues `a` on every open session of `workers` (or on the subscribers of `a.topic` when it is set)
/// and calls done(sessions it was queued for) once every worker has, on the last one's thread.
/// `a.ts_ns` 0 is stamped now. Any thread; never waits for a worker, so a bus reading on worker 0's
/// loop may call it. The event name is not checked here: the caller has (event_name_problem, and
/// no channel of that name).
void deliver_announcement(std::span<Worker* const> workers, protocol::Announcement a,
                          std::function<void(std::size_t delivered)> done = {});

}  // namespace tickgate::gateway
