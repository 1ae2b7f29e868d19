#pragma once
// The engine's owning references to every live connection and listener, and the
// max_connections slots. A connection or listener is added when it is created and removed when it
// finalizes (its last operation completed, on_close ran); stop() waits here until both are empty.
#include "core/slim_mutex.h"
#include "win/registry_walk.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <map>
#include <vector>

namespace wire::detail {

class connection_impl;
class listener_impl;

class connection_registry {
public:
    explicit connection_registry(std::size_t max_connections) noexcept : max_connections_(max_connections) {}

    // false once closed (the engine is stopping): the caller drops the object without callbacks.
    // Throws std::bad_alloc.
    [[nodiscard]] bool add(std::shared_ptr<connection_impl> c);
    [[nodiscard]] bool add(std::shared_ptr<listener_impl> l);
    void remove(const connection_impl* c) noexcept;
    void remove(const listener_impl* l) noexcept;

    // Refuses every later add. Returns false when it was already closed.
    bool close() noexcept;

    [[nodiscard]] std::vector<std::shared_ptr<connection_impl>> connections() const;  // throws bad_alloc
    [[nodiscard]] std::vector<std::shared_ptr<listener_impl>> listeners() const;

    // Calls `fn` on each, from a snapshot taken under the lock, so no lock is held across the
    // calls; without memory for a snapshot, under the lock (stop() must reach every one). `fn`
    // must then not come back to the registry: close() and abort() never do inline (a
    // connection finalizes on a worker; a listener tears down only after its pending accepts).
    template <typename Fn>
    void for_each_connection(Fn fn) noexcept {
        for_each(connections_, fn);
    }
    template <typename Fn>
    void for_each_listener(Fn fn) noexcept {
        for_each(listeners_, fn);
    }

    // Wait (bounded) until no connection, or nothing at all, is left.
    [[nodiscard]] bool wait_no_connections(std::chrono::milliseconds limit);
    [[nodiscard]] bool wait_empty(std::chrono::milliseconds limit);

    // A slot under max_connections; release_slot gives it back when the connection finalizes.
    [[nodiscard]] bool take_slot() noexcept;
    void release_slot() noexcept;

private:
    template <typename Map, typename Key>
    void erase(Map& map, const Key* key) noexcept;

    template <typename Map, typename Fn>
    void for_each(Map& map, Fn& fn) noexcept {
        walk_unlocked(mutex_, map, fn);
    }

    const std::size_t max_connections_;
    mutable slim_mutex mutex_;
    std::condition_variable_any changed_;
    bool closed_ = false;
    std::atomic<std::size_t> slots_used_{0};  // lock-free: taken on every accept
    // Ordered: walk_unlocked resumes after the last key it took.
    std::map<const connection_impl*, std::shared_ptr<connection_impl>> connections_;
    std::map<const listener_impl*, std::shared_ptr<listener_impl>> listeners_;
};

}  // namespace wire::detail
