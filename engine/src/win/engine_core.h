#pragma once
// The state behind wire::engine: the completion port, its workers, the timers, the pools and the
// registry of live connections and listeners.
//
// Who owns what, and why nothing outlives what it points to:
// - wire::engine owns the engine_core alone (std::unique_ptr); nothing else keeps it alive.
// - The core owns the port, the workers, the timers, the pools and the registry; the registry owns
//   every live connection and listener (shared_ptr) until it finalizes.
// - Connections and listeners reach the engine only through their connection_context, and only
//   until they finalize; user handles may keep the objects longer, even past the engine, because
//   after finalizing they touch nothing of it (every entry point checks that under their lock;
//   what they count goes to the shared engine_counters).
// - Every operation (OVERLAPPED) belongs to an object that keeps it at a fixed address until its
//   completion has been handled, and holds a unit on that owner meanwhile (win/teardown.h): an
//   owner cannot finalize, and stop() cannot finish, while the kernel may still write to it. The
//   owners: a connection (its members), a listener and a datagram socket (heap operations in
//   vectors fixed at open; a send is owned by whoever holds it), the socket pool (disconnects),
//   and the packet itself for engine::post's work (deleted by the function that runs it).
// - The core is destroyed only after stop() has seen the registry empty and joined the workers,
//   and never on one of its own workers: ~engine inside a callback hands it to a reaper thread.
//   When an operation never completes (the drain's bound expires) the core is leaked rather
//   than freed under it.
#include <wire/options.h>
#include <wire/statistics.h>

#include "core/buffer_pool.h"
#include "core/byte_budget.h"
#include "core/timer_queue.h"
#include "win/completion_port.h"
#include "win/connection_context.h"
#include "win/connection_registry.h"
#include "win/deadline_watch.h"
#include "win/datagram_registry.h"
#include "win/engine_counters.h"
#include "win/extensions.h"
#include "win/socket_pool.h"
#include "win/winsock_session.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wire::detail {

class engine_core {
public:
    explicit engine_core(const engine_options& options);  // throws std::system_error, std::invalid_argument
    ~engine_core();
    engine_core(const engine_core&) = delete;
    engine_core& operator=(const engine_core&) = delete;

    void start_workers();  // throws std::system_error

    // Stopping, from anywhere:
    // - begin_stop(): the first caller refuses new work, closes the listeners and starts a
    //   graceful close of every connection. Never blocks; callable from a callback.
    // - stop(): begin_stop(), then, on any thread but this engine's workers, waits for every
    //   connection to close (aborting them after stop_timeout), for every operation to complete,
    //   and joins the workers. Concurrent callers wait for the one doing it. On a worker (inside
    //   a callback) it only begins: the owner's stop() or ~engine finishes.
    void begin_stop() noexcept;
    void stop() noexcept;
    [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
    // After stop(): false when an operation never completed within the drain's bound.
    [[nodiscard]] bool stopped_cleanly() const noexcept { return stopped_cleanly_; }
    // Whether the calling thread is one of this engine's workers.
    [[nodiscard]] bool on_own_worker() const noexcept;

    [[nodiscard]] const connection_context& context() const noexcept { return context_; }
    [[nodiscard]] connection_registry& registry() noexcept { return registry_; }
    [[nodiscard]] datagram_registry& datagrams() noexcept { return datagrams_; }
    [[nodiscard]] engine_counters& counters() noexcept { return *counters_; }
    [[nodiscard]] const engine_options& options() const noexcept { return options_; }
    [[nodiscard]] const std::shared_ptr<timer_queue>& timers() const noexcept { return timers_; }

    // engine::post: error::engine_stopped once stopping, not_enough_memory without memory.
    [[nodiscard]] std::error_code post(std::function<void()> work) noexcept;
    // engine::after / every: 0 when refused (stopping, no memory).
    [[nodiscard]] timer_queue::timer_id schedule(timer_queue::clock::duration delay, timer_queue::clock::duration period,
                                                 std::function<void()> callback) noexcept;
    [[nodiscard]] platform_features features() const noexcept;
    [[nodiscard]] statistics snapshot() const noexcept;

private:
    void worker_loop(std::vector<OVERLAPPED_ENTRY>& entries) noexcept;
    // Runs the timers that are due; cheap when none is (one atomic load, one clock read).
    void run_due_timers() noexcept;
    void finish_stop() noexcept;
    // One periodic sweep serves the idle timeout, adaptive receives' parking and the trimming of
    // the receive-buffer pools.
    void schedule_sweep() noexcept;
    void sweep() noexcept;

    // Declaration order is construction order; destruction runs backwards, after stop().
    const engine_options options_;
    winsock_session winsock_;
    std::shared_ptr<engine_counters> counters_;
    // Run by the workers: no timer thread (see deadline_watch.h). Shared only so that a user's
    // timer handle can tell whether the engine is still there (it holds a weak_ptr).
    std::shared_ptr<timer_queue> timers_;
    completion_port port_;
    deadline_watch watch_;
    extension_functions extensions_;
    socket_pool sockets_;
    buffer_pool receive_buffers_;
    buffer_pool bulk_receive_buffers_;
    byte_budget send_budget_;
    connection_registry registry_;
    datagram_registry datagrams_;  // UDP sockets: closed by begin_stop, drained by finish_stop
    std::atomic<std::uint64_t> next_connection_id_{1};
    const connection_context context_;

    std::atomic<bool> stopping_{false};
    // engine::post calls between their stopping() check and their packet being queued: stop()
    // waits for none to be left before it sends the workers away, so no accepted work is lost.
    std::atomic<unsigned> posts_in_flight_{0};
    std::once_flag stopped_;  // finish_stop runs once; the callers of stop() that wait wait for it
    bool stopped_cleanly_ = true;
    std::vector<std::vector<OVERLAPPED_ENTRY>> batches_;  // one per worker, allocated before it starts
    std::vector<std::thread> workers_;
};

}  // namespace wire::detail
