#include "core/buffer_pool.h"

namespace wire::detail {

buffer_pool::buffer_pool(std::size_t buffer_size, std::size_t max_spare)
    : buffer_size_(buffer_size), max_spare_(max_spare) {
    spare_.reserve(max_spare_);
}

buffer_pool::buffer buffer_pool::take() {
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lock(mutex_);
        if (!spare_.empty()) {
            buffer b = std::move(spare_.back());
            spare_.pop_back();
            return b;
        }
    }
    try {
        return std::make_unique_for_overwrite<std::byte[]>(buffer_size_);
    } catch (...) {
        outstanding_.fetch_sub(1, std::memory_order_relaxed);
        throw;
    }
}

void buffer_pool::give(buffer b) noexcept {
    if (!b) {
        return;
    }
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    if (spare_.size() < max_spare_) {
        spare_.push_back(std::move(b));  // within the reserved capacity
    }
}

std::size_t buffer_pool::spare() const noexcept {
    std::lock_guard lock(mutex_);
    return spare_.size();
}

}  // namespace wire::detail
