#pragma once
// The engine's owning references to every live connection and listener (win/object_registry.h),
// and the max_connections slots.
#include "win/object_registry.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

namespace wire::detail {

class connection_impl;
class listener_impl;

class connection_registry {
public:
    explicit connection_registry(std::size_t max_connections) noexcept : max_connections_(max_connections) {}

    // false once closed (the engine is stopping): the caller drops the object without callbacks.
    // Throws std::bad_alloc.
    [[nodiscard]] bool add(std::shared_ptr<connection_impl> c) { return connections_.add(std::move(c)); }
    [[nodiscard]] bool add(std::shared_ptr<listener_impl> l) { return listeners_.add(std::move(l)); }
    void remove(const connection_impl* c) noexcept { connections_.remove(c); }
    void remove(const listener_impl* l) noexcept { listeners_.remove(l); }

    // Refuses every later add.
    void close() noexcept {
        (void)listeners_.close();
        (void)connections_.close();
    }

    // No registry lock is held across the calls (see object_registry::for_each).
    template <typename Fn>
    void for_each_connection(Fn fn) noexcept {
        connections_.for_each(fn);
    }
    template <typename Fn>
    void for_each_listener(Fn fn) noexcept {
        listeners_.for_each(fn);
    }

    // Wait (bounded) until no connection, or nothing at all, is left.
    [[nodiscard]] bool wait_no_connections(std::chrono::milliseconds limit) {
        return connections_.wait_empty(std::chrono::steady_clock::now() + limit);
    }
    [[nodiscard]] bool wait_empty(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        return connections_.wait_empty(deadline) && listeners_.wait_empty(deadline);
    }

    // A slot under max_connections; release_slot gives it back when the connection finalizes.
    [[nodiscard]] bool take_slot() noexcept;
    void release_slot() noexcept;

private:
    const std::size_t max_connections_;
    std::atomic<std::size_t> slots_used_{0};  // lock-free: taken on every accept
    object_registry<connection_impl> connections_;
    object_registry<listener_impl> listeners_;
};

}  // namespace wire::detail
