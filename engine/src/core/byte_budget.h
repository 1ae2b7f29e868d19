#pragma once
// An engine-wide bound on the bytes held in send queues, so that what all peers together can make
// the engine buffer is bounded, not only what each can. Thread-safe, lock-free. Platform-neutral.
//
// Reservations are exact (compare-and-swap), so try_reserve never takes the total past the limit;
// force_reserve counts bytes that are granted whatever the total (each connection's guaranteed
// share), after which try_reserve refuses until the total has fallen back below the limit.
#include <atomic>
#include <cstddef>

namespace wire::detail {

class byte_budget {
public:
    explicit byte_budget(std::size_t limit) noexcept : limit_(limit) {}  // 0: unbounded
    byte_budget(const byte_budget&) = delete;
    byte_budget& operator=(const byte_budget&) = delete;

    [[nodiscard]] bool try_reserve(std::size_t bytes) noexcept;
    void force_reserve(std::size_t bytes) noexcept { used_.fetch_add(bytes, std::memory_order_relaxed); }
    void release(std::size_t bytes) noexcept { used_.fetch_sub(bytes, std::memory_order_relaxed); }

    [[nodiscard]] std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

private:
    const std::size_t limit_;
    std::atomic<std::size_t> used_{0};
};

}  // namespace wire::detail
