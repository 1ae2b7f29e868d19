#include "win/connection_registry.h"

namespace wire::detail {

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
