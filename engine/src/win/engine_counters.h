#pragma once
// Relaxed counters behind wire::statistics. Shared (std::shared_ptr) between the engine and every
// connection object, because a connection object may outlive its engine (a user handle keeps it)
// and still counts itself out when it is destroyed.
#include <atomic>
#include <cstdint>

namespace wire::detail {

struct engine_counters {
    using counter = std::atomic<std::uint64_t>;
    counter connections_open{0};
    counter connections_accepted{0};
    counter connections_connected{0};
    counter connections_closed{0};
    counter connections_rejected{0};
    counter connect_failures{0};
    counter accept_failures{0};
    counter idle_timeouts{0};
    counter bytes_received{0};
    counter bytes_sent{0};
    counter receive_calls{0};
    counter send_calls{0};
    counter dequeue_calls{0};
    counter completions_dequeued{0};
    counter completions_inline{0};
    counter sockets_reused{0};
    counter sends_refused{0};
    counter sends_refused_engine_limit{0};
    counter operations_pending{0};
    counter connection_objects{0};
    counter receives_parked{0};
    counter post_failures{0};     // PostQueuedCompletionStatus failed (retried by a timer on a worker)
    counter dequeue_failures{0};  // GetQueuedCompletionStatusEx failed for a reason other than shutdown
    counter send_overreports{0};  // a send completion reported more bytes than were gathered (a defect)

    static void add(counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
    static void sub(counter& c, std::uint64_t n = 1) noexcept { c.fetch_sub(n, std::memory_order_relaxed); }
    [[nodiscard]] static std::uint64_t get(const counter& c) noexcept { return c.load(std::memory_order_relaxed); }
};

}  // namespace wire::detail
