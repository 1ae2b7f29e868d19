#include "win/connection_registry.h"

#include "win/connection_impl.h"
#include "win/listener_impl.h"

#include <mutex>
#include <utility>

namespace wire::detail {

bool connection_registry::add(std::shared_ptr<connection_impl> c) {
    std::lock_guard lock(mutex_);
    if (closed_) {
        return false;
    }
    const connection_impl* key = c.get();
    connections_.emplace(key, std::move(c));
    return true;
}

bool connection_registry::add(std::shared_ptr<listener_impl> l) {
    std::lock_guard lock(mutex_);
    if (closed_) {
        return false;
    }
    const listener_impl* key = l.get();
    listeners_.emplace(key, std::move(l));
    return true;
}

template <typename Map, typename Key>
void connection_registry::erase(Map& map, const Key* key) noexcept {
    typename Map::mapped_type last;  // released outside the lock: it may run a destructor chain
    {
        std::lock_guard lock(mutex_);
        if (const auto it = map.find(key); it != map.end()) {
            last = std::move(it->second);
            map.erase(it);
        }
        // Notified under the lock: a waiter that sees the registry empty may destroy the engine
        // as soon as it holds the lock, so nothing here may touch `this` after the unlock.
        changed_.notify_all();
    }
}

void connection_registry::remove(const connection_impl* c) noexcept { erase(connections_, c); }
void connection_registry::remove(const listener_impl* l) noexcept { erase(listeners_, l); }

bool connection_registry::close() noexcept {
    std::lock_guard lock(mutex_);
    return !std::exchange(closed_, true);
}

std::vector<std::shared_ptr<connection_impl>> connection_registry::connections() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<connection_impl>> out;
    out.reserve(connections_.size());
    for (const auto& [key, c] : connections_) {
        out.push_back(c);
    }
    return out;
}

std::vector<std::shared_ptr<listener_impl>> connection_registry::listeners() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<listener_impl>> out;
    out.reserve(listeners_.size());
    for (const auto& [key, l] : listeners_) {
        out.push_back(l);
    }
    return out;
}

bool connection_registry::wait_no_connections(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [this] { return connections_.empty(); });
}

bool connection_registry::wait_empty(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [this] { return connections_.empty() && listeners_.empty(); });
}

bool connection_registry::take_slot() noexcept {
    std::size_t used = slots_used_.load(std::memory_order_relaxed);
    do {
        if (used >= max_connections_) {
            return false;
        }
    } while (!slots_used_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
    return true;
}

void connection_registry::release_slot() noexcept { slots_used_.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace wire::detail
