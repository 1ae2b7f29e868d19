#pragma once
// The engine's owning references to every open datagram socket (win/object_registry.h), and what
// the platform turned out to offer UDP (probed on the first socket, not assumed).
#include <wire/options.h>

#include "win/object_registry.h"
#include "win/winsock.h"

#include <atomic>
#include <chrono>
#include <memory>

namespace wire::detail {

class datagram_impl;

class datagram_registry {
public:
    datagram_registry() = default;
    datagram_registry(const datagram_registry&) = delete;
    datagram_registry& operator=(const datagram_registry&) = delete;

    // false once closed (the engine is stopping). Throws std::bad_alloc.
    [[nodiscard]] bool add(std::shared_ptr<datagram_impl> d) { return sockets_.add(std::move(d)); }
    void remove(const datagram_impl* d) noexcept { sockets_.remove(d); }
    // Refuses every later add and closes every socket with error::engine_stopped. Never blocks.
    void close_all() noexcept;
    // Waits (bounded) until every socket has finalized.
    [[nodiscard]] bool wait_empty(std::chrono::milliseconds limit) {
        return sockets_.wait_empty(std::chrono::steady_clock::now() + limit);
    }

    // Probes `s` (an open UDP socket) for send and receive coalescing, once per engine.
    void probe(SOCKET s) noexcept;
    // Adds what was learnt to `f` (nothing before the first datagram socket).
    void add_features(platform_features& f) const noexcept;
    // Whether SIO_UDP_CONNRESET could be switched off (recorded by each socket's open).
    void note_connection_reset_off(bool off) noexcept { connreset_off_.store(off, std::memory_order_relaxed); }

private:
    object_registry<datagram_impl> sockets_;
    std::atomic<bool> probed_{false};
    std::atomic<bool> send_coalescing_{false};
    std::atomic<bool> receive_coalescing_{false};
    std::atomic<bool> connreset_off_{false};
};

}  // namespace wire::detail
