#pragma once
// An engine-wide bound on the bytes held in send queues, so that what all peers together can make
// the engine buffer is bounded, not only what each can. Thread-safe, lock-free. Platform-neutral.
//
// Reservations are exact (compare-and-swap), so the total never passes the limit, with one
// exception: a reservation is always granted while nothing is held, so a single buffer larger
// than the whole limit can still be sent on its own.
//
// Whoever is refused calls mark_waiting(); the release that brings the total down to the
// low-water mark after that returns true once, and its caller wakes the waiters. A waiter that
// registers after the total already fell must re-check with below_low_water(), or it could wait
// for a release that never comes.
#include <atomic>
#include <cstddef>

namespace wire::detail {

class byte_budget {
public:
    // limit 0: unbounded. low_water 0: three quarters of the limit.
    explicit byte_budget(std::size_t limit, std::size_t low_water = 0) noexcept;
    byte_budget(const byte_budget&) = delete;
    byte_budget& operator=(const byte_budget&) = delete;

    [[nodiscard]] bool try_reserve(std::size_t bytes) noexcept;
    // Counts bytes whatever the limit (a guaranteed share): the total may then exceed the limit,
    // and try_reserve refuses until it has fallen back.
    void force_reserve(std::size_t bytes) noexcept { used_.fetch_add(bytes); }
    // Returns true when waiters should be woken (see above).
    [[nodiscard]] bool release(std::size_t bytes) noexcept;
    void mark_waiting() noexcept { waiting_.store(true); }
    [[nodiscard]] bool below_low_water() const noexcept { return used_.load() <= low_water_; }

    [[nodiscard]] std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
    [[nodiscard]] std::size_t low_water() const noexcept { return low_water_; }

private:
    const std::size_t limit_;
    const std::size_t low_water_;
    std::atomic<std::size_t> used_{0};
    // Sequentially consistent with used_: a release either sees the flag or the waiter's re-check
    // sees the released total.
    std::atomic<bool> waiting_{false};
};

}  // namespace wire::detail
