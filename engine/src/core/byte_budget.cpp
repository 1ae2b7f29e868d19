#include "core/byte_budget.h"

namespace wire::detail {

bool byte_budget::try_reserve(std::size_t bytes) noexcept {
    std::size_t used = used_.load(std::memory_order_relaxed);
    for (;;) {
        if (limit_ != 0 && (bytes > limit_ || used > limit_ - bytes)) {
            return false;
        }
        if (used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed)) {
            return true;
        }
    }
}

}  // namespace wire::detail
