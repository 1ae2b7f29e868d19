#pragma once
// A handle to a timer set with engine::after / every or connection::after / every.
#include <chrono>
#include <cstdint>
#include <memory>

namespace wire {

namespace detail {
class timer_queue;
class connection_impl;
}  // namespace detail

// Timers run on the engine's workers; no thread waits for them (the workers' dequeue timeout is
// the next deadline). Copyable; dropping the last handle does not cancel the timer.
// - cancel(): true when it kept the callback from running (one-shot) or from running again
//   (periodic). A callback already running on another worker finishes; cancelling inside one's
//   own callback ends a periodic timer. Harmless after the engine is gone (returns false).
// - When engine::stop() begins, pending application timers are dropped (their functions
//   destroyed without running); none runs after stop() returns.
// - A connection's timers run serialised with its callbacks and die with it: none runs once the
//   connection has closed (its socket given up), and none after its on_close. One that comes due
//   while the connection's callbacks are busy waits its turn (a one-shot is then past cancelling);
//   a periodic timer that comes due again before its waiting run has started runs once for both.
// - Precision: where Windows has high-resolution waitable timers (10 1803+) a timer runs within
//   a fraction of a millisecond of its deadline on an idle engine; elsewhere on the system tick
//   (about 15.6 ms). Under load it runs when a worker is next free: callbacks must stay short.
class timer {
public:
    using duration = std::chrono::steady_clock::duration;

    timer() = default;
    bool cancel() const noexcept;
    // False for a timer the engine refused (stopping, out of memory, closed connection).
    explicit operator bool() const noexcept { return id_ != 0; }

private:
    friend class engine;
    friend class connection;
    timer(std::weak_ptr<detail::timer_queue> queue, std::uint64_t id,
          std::weak_ptr<detail::connection_impl> owner = {}) noexcept
        : queue_(std::move(queue)), owner_(std::move(owner)), id_(id) {}

    std::weak_ptr<detail::timer_queue> queue_;
    std::weak_ptr<detail::connection_impl> owner_;  // a connection's timer: it forgets the timer too
    std::uint64_t id_ = 0;
};

}  // namespace wire
