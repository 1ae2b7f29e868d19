#pragma once
// The engine's owning references to its live objects of one kind (connections, listeners,
// datagram sockets: connection_registry.h, datagram_registry.h). An object is added when it is
// created and removed when it finalizes (see win/teardown.h); stop() closes the registry, visits
// every object to close it, and waits until none is left.
//
// Visiting closes objects, which makes system calls, and the registry's lock is an engine lock
// (core/slim_mutex.h): for_each takes a few objects at a time under the lock and visits them with
// it released. Nothing is allocated, so running out of memory cannot force a visit under the
// lock. The map is ordered by key, so a walk resumes after the last key it took: an object
// present throughout is visited exactly once, whatever is added or removed meanwhile.
#include "core/slim_mutex.h"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace wire::detail {

template <typename T>
class object_registry {
public:
    object_registry() = default;
    object_registry(const object_registry&) = delete;
    object_registry& operator=(const object_registry&) = delete;

    // false once closed (the engine is stopping): the caller drops the object without callbacks.
    // Throws std::bad_alloc.
    [[nodiscard]] bool add(std::shared_ptr<T> object) {
        std::lock_guard lock(mutex_);
        if (closed_) {
            return false;
        }
        const T* key = object.get();
        objects_.emplace(key, std::move(object));
        return true;
    }

    void remove(const T* object) noexcept {
        std::shared_ptr<T> last;  // released outside the lock: it may run a destructor chain
        std::lock_guard lock(mutex_);
        if (const auto it = objects_.find(object); it != objects_.end()) {
            last = std::move(it->second);
            objects_.erase(it);
        }
        // Notified under the lock: a waiter that sees the registry empty may destroy the engine
        // as soon as it holds the lock, so nothing here may touch `this` after the unlock.
        changed_.notify_all();
    }

    // Refuses every later add. Returns false when it was already closed.
    bool close() noexcept {
        std::lock_guard lock(mutex_);
        return !std::exchange(closed_, true);
    }

    template <typename Fn>
    void for_each(Fn fn) noexcept {
        constexpr std::size_t batch = 32;
        const T* last = nullptr;
        bool started = false;
        for (;;) {
            std::array<std::shared_ptr<T>, batch> taken{};  // dropped outside the lock
            std::size_t count = 0;
            {
                std::lock_guard lock(mutex_);
                for (auto it = started ? objects_.upper_bound(last) : objects_.begin(); it != objects_.end() && count < batch;
                     ++it) {
                    taken[count++] = it->second;
                    last = it->first;
                }
            }
            started = true;
            for (std::size_t i = 0; i < count; ++i) {
                fn(*taken[i]);
            }
            if (count < batch) {
                return;
            }
        }
    }

    // Until none is left, or `deadline`: whether none is.
    [[nodiscard]] bool wait_empty(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        return changed_.wait_until(lock, deadline, [this] { return objects_.empty(); });
    }

private:
    mutable slim_mutex mutex_;
    std::condition_variable_any changed_;
    bool closed_ = false;
    std::map<const T*, std::shared_ptr<T>> objects_;
};

}  // namespace wire::detail
