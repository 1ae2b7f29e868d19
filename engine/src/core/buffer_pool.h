#pragma once
// Fixed-size receive buffers shared by an engine's connections, so that a connection waiting in
// a zero-byte receive holds none, and churn does not allocate one per connection. Bounded: at most
// max_spare idle buffers are kept, and trim() lets go of spares nobody needed since the previous
// trim; the rest go back to the allocator. Thread-safe. Platform-neutral: where memory comes from
// is the caller's choice (the heap by default).
#include "core/slim_mutex.h"

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace wire::detail {

class buffer_pool {
public:
    // Where buffers come from and go back to. A heap keeps freed blocks committed; the engine on
    // Windows passes a page allocator so that buffers it lets go return to the system.
    struct allocator {
        using allocate_fn = std::byte* (*)(std::size_t size) noexcept;  // nullptr when out of memory
        using release_fn = void (*)(std::byte* block, std::size_t size) noexcept;
        allocate_fn allocate;
        release_fn release;
    };
    [[nodiscard]] static allocator heap_allocator() noexcept;

    class releaser {
    public:
        releaser() noexcept = default;
        releaser(allocator::release_fn release, std::size_t size) noexcept : release_(release), size_(size) {}
        void operator()(std::byte* block) const noexcept {
            if (block != nullptr && release_ != nullptr) {
                release_(block, size_);
            }
        }

    private:
        allocator::release_fn release_ = nullptr;
        std::size_t size_ = 0;
    };
    using buffer = std::unique_ptr<std::byte[], releaser>;

    buffer_pool(std::size_t buffer_size, std::size_t max_spare, allocator source = heap_allocator());  // throws bad_alloc
    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    [[nodiscard]] buffer take();  // throws bad_alloc
    void give(buffer b) noexcept;
    // Releases the spares that stayed unused since the previous call: called periodically, it
    // keeps what a steady load recycles and gives back what a burst left behind.
    void trim() noexcept;

    [[nodiscard]] std::size_t buffer_size() const noexcept { return buffer_size_; }
    [[nodiscard]] std::size_t spare() const noexcept;
    [[nodiscard]] std::size_t outstanding() const noexcept { return outstanding_.load(std::memory_order_relaxed); }

private:
    const std::size_t buffer_size_;
    const std::size_t max_spare_;
    const allocator source_;
    mutable slim_mutex mutex_;
    std::vector<buffer> spare_;  // capacity reserved up front: give() never allocates
    std::size_t untouched_spares_ = 0;  // fewest spares since the last trim(): those were not needed
    std::atomic<std::size_t> outstanding_{0};  // taken and not given back
};

}  // namespace wire::detail
