#pragma once
// How the registries (connection_registry, datagram_registry) visit what they hold, at stop():
// a few objects at a time are taken under the registry's lock, then visited with it released,
// since visiting closes them (system calls, and a registry's lock is an engine lock: see
// core/slim_mutex.h). Nothing is allocated, so running out of memory cannot force the visit
// under the lock. The map is ordered by key, so the walk resumes after the last key it took:
// each object present throughout is visited exactly once, whatever is added or removed meanwhile.
#include "core/slim_mutex.h"

#include <array>
#include <cstddef>
#include <mutex>

namespace wire::detail {

template <typename Map, typename Fn>
void walk_unlocked(slim_mutex& mutex, const Map& map, Fn& fn) noexcept {
    constexpr std::size_t batch = 32;
    typename Map::key_type last{};
    bool started = false;
    for (;;) {
        std::array<typename Map::mapped_type, batch> taken{};  // references, dropped outside the lock
        std::size_t count = 0;
        {
            std::lock_guard lock(mutex);
            for (auto it = started ? map.upper_bound(last) : map.begin(); it != map.end() && count < batch; ++it) {
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

}  // namespace wire::detail
