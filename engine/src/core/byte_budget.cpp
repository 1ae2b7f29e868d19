#include "core/byte_budget.h"

namespace wire::detail {

byte_budget::byte_budget(std::size_t limit, std::size_t low_water) noexcept
    : limit_(limit), low_water_(limit == 0 ? 0 : (low_water == 0 || low_water >= limit ? limit / 4 * 3 : low_water)) {}

bool byte_budget::try_reserve(std::size_t bytes) noexcept {
    std::size_t used = used_.load(std::memory_order_relaxed);
    for (;;) {
        if (limit_ != 0 && used != 0 && (bytes > limit_ || used > limit_ || used > limit_ - bytes)) {
            return false;
        }
        if (used_.compare_exchange_weak(used, used + bytes)) {
            return true;
        }
    }
}

bool byte_budget::release(std::size_t bytes) noexcept {
    if (bytes == 0) {
        return false;
    }
    const std::size_t now = used_.fetch_sub(bytes) - bytes;
    return now <= low_water_ && waiting_.load() && waiting_.exchange(false);
}

}  // namespace wire::detail
