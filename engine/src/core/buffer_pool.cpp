#include "core/buffer_pool.h"

#include <algorithm>
#include <new>

namespace wire::detail {

buffer_pool::allocator buffer_pool::heap_allocator() noexcept {
    return {[](std::size_t size) noexcept -> std::byte* { return new (std::nothrow) std::byte[size]; },
            [](std::byte* block, std::size_t /*size*/) noexcept { delete[] block; }};
}

buffer_pool::buffer_pool(std::size_t buffer_size, std::size_t max_spare, allocator source)
    : buffer_size_(buffer_size), max_spare_(max_spare), source_(source) {
    spare_.reserve(max_spare_);
}

buffer_pool::buffer buffer_pool::take() {
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lock(mutex_);
        if (!spare_.empty()) {
            buffer b = std::move(spare_.back());
            spare_.pop_back();
            untouched_spares_ = std::min(untouched_spares_, spare_.size());
            return b;
        }
    }
    std::byte* block = source_.allocate(buffer_size_);
    if (block == nullptr) {
        outstanding_.fetch_sub(1, std::memory_order_relaxed);
        throw std::bad_alloc();
    }
    return buffer(block, releaser(source_.release, buffer_size_));
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

void buffer_pool::trim() noexcept {
    std::unique_lock lock(mutex_);
    for (std::size_t let_go = untouched_spares_; let_go > 0 && !spare_.empty(); --let_go) {
        buffer b = std::move(spare_.back());
        spare_.pop_back();
        lock.unlock();
        b.reset();  // released by its releaser (VirtualFree: a system call), outside the lock
        lock.lock();
    }
    untouched_spares_ = spare_.size();
}

std::size_t buffer_pool::spare() const noexcept {
    std::lock_guard lock(mutex_);
    return spare_.size();
}

}  // namespace wire::detail
