#pragma once
// The engine's owning references to every open datagram socket, and what the platform turned out
// to offer UDP (probed on the first socket, not assumed). stop() closes every socket here and
// waits until each has finalized (its last operation completed, on_close ran).
#include <wire/options.h>

#include "core/slim_mutex.h"
#include "win/registry_walk.h"
#include "win/winsock.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <map>

namespace wire::detail {

class datagram_impl;

class datagram_registry {
public:
    datagram_registry() = default;
    datagram_registry(const datagram_registry&) = delete;
    datagram_registry& operator=(const datagram_registry&) = delete;

    // false once closed (the engine is stopping). Throws std::bad_alloc.
    [[nodiscard]] bool add(std::shared_ptr<datagram_impl> d);
    void remove(const datagram_impl* d) noexcept;
    // Refuses every later add and closes every socket with error::engine_stopped. Never blocks.
    void close_all() noexcept;
    // Waits (bounded) until every socket has finalized.
    [[nodiscard]] bool wait_empty(std::chrono::milliseconds limit);

    // Probes `s` (an open UDP socket) for send and receive coalescing, once per engine.
    void probe(SOCKET s) noexcept;
    // Adds what was learnt to `f` (nothing before the first datagram socket).
    void add_features(platform_features& f) const noexcept;
    // Whether SIO_UDP_CONNRESET could be switched off (recorded by each socket's open).
    void note_connection_reset_off(bool off) noexcept { connreset_off_.store(off, std::memory_order_relaxed); }

private:
    mutable slim_mutex mutex_;
    std::condition_variable_any changed_;
    bool closed_ = false;
    std::map<const datagram_impl*, std::shared_ptr<datagram_impl>> sockets_;  // ordered: see walk_unlocked
    std::atomic<bool> probed_{false};
    std::atomic<bool> send_coalescing_{false};
    std::atomic<bool> receive_coalescing_{false};
    std::atomic<bool> connreset_off_{false};
};

}  // namespace wire::detail
