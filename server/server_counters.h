#pragma once
// What the server counts beyond the engine's own statistics (relaxed atomics, shared by every
// connection's handler and read by the statistics printer).
#include "rejection_log.h"

#include <atomic>
#include <cstdint>

namespace wire::server {

struct server_counters {
    // Frames echoed in frame mode; completed receives (on_data calls) in echo and discard mode.
    std::atomic<std::uint64_t> messages{0};
    // Connections turned away, each logged once (frame lengths above --max-frame among them).
    rejection_log rejections;
    // Times a connection stopped reading because its replies did not fit in the send queue.
    std::atomic<std::uint64_t> backpressure_pauses{0};
    // --tls: handshakes completed (on_open). Failed ones are rejections (rejection::tls_handshake).
    std::atomic<std::uint64_t> tls_handshakes{0};

    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
        counter.fetch_add(n, std::memory_order_relaxed);
    }
};

}  // namespace wire::server
