#pragma once
// The engine's I/O completion port: the handle, association of sockets with it, and posting.
//
// Posting never fails silently: PostQueuedCompletionStatus fails only when the system is short of
// memory, and the operation being posted holds a busy unit on its owner that only its completion
// gives back. So a failed post is counted and retried by a timer (on a worker) until it goes through
// (or the engine stops); the owner stays alive meanwhile because that unit is still held.
#include "core/timer_queue.h"
#include "win/engine_counters.h"
#include "win/operation.h"
#include "win/unique_handle.h"
#include "win/winsock.h"

#include <system_error>

namespace wire::detail {

class completion_port {
public:
    // Throws std::system_error when the port cannot be created (set-up only).
    completion_port(unsigned concurrency, bool skip_on_success, engine_counters& counters, timer_queue& timers);
    completion_port(const completion_port&) = delete;
    completion_port& operator=(const completion_port&) = delete;

    // Associates a socket with the port and, where supported, lets synchronous successes skip it.
    // `skips_port_on_success` says whether they do for this socket.
    [[nodiscard]] std::error_code associate(SOCKET socket, bool& skips_port_on_success) noexcept;

    // Queues `op` to a worker as if it had completed with `error` and `bytes`: so that a user
    // callback never runs inside the call that started an operation, and to yield after a run of
    // inline completions. Always delivered (see above).
    void post(operation& op, DWORD error, DWORD bytes = 0) noexcept;
    // One attempt, no retry: false when the port refused the packet.
    [[nodiscard]] bool try_post(operation& op, DWORD error, DWORD bytes = 0) noexcept;
    // Wakes one worker so that it leaves its loop.
    void post_quit() noexcept;
    // Wakes one worker so that it looks at the timers; false when the port refused the packet.
    [[nodiscard]] bool post_wake() noexcept;

    [[nodiscard]] HANDLE handle() const noexcept { return port_.get(); }
    [[nodiscard]] bool skip_on_success() const noexcept { return skip_on_success_; }

private:
    void retry_post(operation& op, DWORD error, DWORD bytes) noexcept;

    unique_handle port_;
    bool skip_on_success_ = false;
    engine_counters& counters_;
    timer_queue& timers_;
};

}  // namespace wire::detail
