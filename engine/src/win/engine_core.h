#pragma once
// The shared state behind wire::engine: the completion port, its workers, the timers, and the
// registry that owns every live connection and listener until its last operation has completed.
#include <wire/options.h>
#include <wire/statistics.h>

#include "core/buffer_pool.h"
#include "core/byte_budget.h"
#include "core/timer_queue.h"
#include "win/extensions.h"
#include "win/operation.h"
#include "win/socket_pool.h"
#include "win/unique_handle.h"
#include "win/winsock.h"
#include "win/winsock_session.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace wire::detail {

class connection_impl;
class listener_impl;

// Relaxed counters behind wire::statistics.
struct engine_counters {
    std::atomic<std::uint64_t> connections_open{0};
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_connected{0};
    std::atomic<std::uint64_t> connections_closed{0};
    std::atomic<std::uint64_t> connections_rejected{0};
    std::atomic<std::uint64_t> connect_failures{0};
    std::atomic<std::uint64_t> accept_failures{0};
    std::atomic<std::uint64_t> idle_timeouts{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::uint64_t> receive_calls{0};
    std::atomic<std::uint64_t> send_calls{0};
    std::atomic<std::uint64_t> dequeue_calls{0};
    std::atomic<std::uint64_t> completions_dequeued{0};
    std::atomic<std::uint64_t> completions_inline{0};
    std::atomic<std::uint64_t> sockets_reused{0};
    std::atomic<std::uint64_t> sends_refused{0};
    std::atomic<std::uint64_t> sends_refused_engine_limit{0};
    std::atomic<std::uint64_t> operations_pending{0};
    std::atomic<std::uint64_t> connection_objects{0};
    std::atomic<std::uint64_t> receives_parked{0};

    static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.fetch_add(n, std::memory_order_relaxed);
    }
    static void sub(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.fetch_sub(n, std::memory_order_relaxed);
    }
};

class engine_core : public std::enable_shared_from_this<engine_core> {
public:
    explicit engine_core(const engine_options& options);  // throws std::system_error
    ~engine_core();
    engine_core(const engine_core&) = delete;
    engine_core& operator=(const engine_core&) = delete;

    void start_workers();
    void stop() noexcept;
    [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

    // Associates a socket with the port and, where supported, lets synchronous successes skip it.
    // Returns whether skip-on-success is on for this socket.
    [[nodiscard]] std::error_code associate(SOCKET socket, bool& skips_port_on_success) noexcept;

    // Queues `op` to a worker as if it had completed with `error` and `bytes`. Used so that user
    // callbacks never run inside the call that started an operation, and to yield after a run of
    // inline completions. Returns false only if the port is gone.
    bool post(operation& op, DWORD error, DWORD bytes = 0) noexcept;

    // Registry: the engine's owning reference to every live connection and listener.
    [[nodiscard]] bool add_connection(std::shared_ptr<connection_impl> c);  // false when stopping
    void remove_connection(const connection_impl* c) noexcept;
    [[nodiscard]] bool add_listener(std::shared_ptr<listener_impl> l);
    void remove_listener(const listener_impl* l) noexcept;

    // Reserves a slot under max_connections; release_slot gives it back when the connection finalizes.
    [[nodiscard]] bool take_slot() noexcept;
    void release_slot() noexcept;

    // The engine-wide bound on queued send bytes (engine_options::max_buffered_bytes).
    // `guaranteed`: the connection's queue is empty or within its send_queue_guaranteed share.
    [[nodiscard]] bool reserve_send_bytes(std::size_t bytes, bool guaranteed) noexcept {
        if (guaranteed) {
            send_budget_.force_reserve(bytes);
            return true;
        }
        return send_budget_.try_reserve(bytes);
    }
    void release_send_bytes(std::size_t bytes) noexcept { send_budget_.release(bytes); }

    [[nodiscard]] const engine_options& options() const noexcept { return options_; }
    [[nodiscard]] platform_features features() const noexcept;
    [[nodiscard]] bool skip_port_supported() const noexcept { return skip_port_supported_; }
    [[nodiscard]] socket_pool& sockets() noexcept { return pool_; }
    [[nodiscard]] buffer_pool& receive_buffers() noexcept { return receive_buffers_; }
    // Four times receive_buffer_size: for connections whose receives fill a normal buffer.
    [[nodiscard]] buffer_pool& bulk_receive_buffers() noexcept { return bulk_receive_buffers_; }
    [[nodiscard]] const extension_functions& extensions() const noexcept { return extensions_; }
    [[nodiscard]] timer_queue& timers() noexcept { return timers_; }
    [[nodiscard]] engine_counters& counters() noexcept { return counters_; }
    [[nodiscard]] statistics snapshot() const noexcept;
    [[nodiscard]] std::uint64_t next_connection_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }
    [[nodiscard]] static bool on_worker_thread() noexcept;

private:
    void worker_loop() noexcept;
    // One periodic sweep serves the idle timeout, adaptive receives' parking and the trimming of
    // the receive-buffer pool.
    void schedule_idle_sweep();
    void sweep_idle() noexcept;
    template <typename Predicate>
    bool wait_registry(std::chrono::milliseconds timeout, Predicate done);

    engine_options options_;
    winsock_session winsock_;
    unique_handle port_;
    extension_functions extensions_;
    bool skip_port_supported_ = false;
    engine_counters counters_;
    socket_pool pool_{*this};  // after options_ and extensions_, which it reads
    buffer_pool receive_buffers_;
    buffer_pool bulk_receive_buffers_;
    std::atomic<std::uint64_t> next_id_{1};
    std::atomic<std::size_t> slots_used_{0};
    byte_budget send_budget_;

    std::mutex registry_mutex_;
    std::condition_variable registry_changed_;
    std::unordered_map<const connection_impl*, std::shared_ptr<connection_impl>> connections_;
    std::unordered_map<const listener_impl*, std::shared_ptr<listener_impl>> listeners_;

    std::atomic<bool> stopping_{false};
    std::mutex stop_mutex_;  // serialises stop() callers
    bool stopped_ = false;
    std::vector<std::thread> workers_;
    timer_queue timers_;  // destroyed first: its callbacks hold only weak references
};

}  // namespace wire::detail
