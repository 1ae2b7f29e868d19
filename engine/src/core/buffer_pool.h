#pragma once
// Fixed-size receive buffers shared by an engine's connections, so that a connection waiting in
// a zero-byte receive holds none, and churn does not allocate one per connection. Bounded: at most
// max_spare idle buffers are kept; the rest go back to the heap. Thread-safe. Platform-neutral.
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace wire::detail {

class buffer_pool {
public:
    using buffer = std::unique_ptr<std::byte[]>;

    buffer_pool(std::size_t buffer_size, std::size_t max_spare);  // throws bad_alloc
    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    [[nodiscard]] buffer take();  // throws bad_alloc
    void give(buffer b) noexcept;

    [[nodiscard]] std::size_t buffer_size() const noexcept { return buffer_size_; }
    [[nodiscard]] std::size_t spare() const noexcept;
    [[nodiscard]] std::size_t outstanding() const noexcept { return outstanding_.load(std::memory_order_relaxed); }

private:
    const std::size_t buffer_size_;
    const std::size_t max_spare_;
    mutable std::mutex mutex_;
    std::vector<buffer> spare_;  // capacity reserved up front: give() never allocates
    std::atomic<std::size_t> outstanding_{0};  // taken and not given back
};

}  // namespace wire::detail
