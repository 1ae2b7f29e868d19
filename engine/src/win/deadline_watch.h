#pragma once
// How the workers wait for time, so that no thread exists only to wait for it: before each
// dequeue a worker may claim the earliest deadline and wait in the completion port with the time
// left as its timeout; the others wait until a little after it (backup_slack), in case the
// claimant is busy in callbacks when it comes. After every wake-up a worker runs what is due
// (engine_core::worker_loop). A timer scheduled earlier than what anyone waits for posts one wake
// packet, so its deadline is claimed at once.
//
// Precision: a dequeue timeout counts in milliseconds and expires on the system's timer tick
// (15.6 ms by default on Windows). Where the platform has high-resolution waitable timers
// (Windows 10 1803 and later), a worker arms its own for the exact deadline and waits alertably:
// the timer's APC ends the wait. The timer is armed only for the last stretch before a deadline
// (a far deadline is first approached with a coarse timeout), so the extra call is made once per
// deadline reached, not once per dequeue.
#include "core/timer_queue.h"
#include "win/completion_port.h"
#include "win/unique_handle.h"
#include "win/winsock.h"

#include <atomic>

namespace wire::detail {

class deadline_watch {
public:
    using clock = timer_queue::clock;

    // Each worker's own state; lives on the worker's stack.
    class waiter {
    public:
        waiter() noexcept;  // creates the precise timer where the platform has one
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;
        [[nodiscard]] bool precise() const noexcept { return static_cast<bool>(precise_timer_); }

    private:
        friend class deadline_watch;
        clock::time_point claimed_ = clock::time_point::max();  // the deadline this worker waits for
        clock::time_point armed_ = clock::time_point::max();    // what precise_timer_ is set to
        bool blind_ = false;  // waiting with no timeout: no deadline existed when the wait began
        unique_handle precise_timer_;
    };

    deadline_watch(const timer_queue& timers, completion_port& port) noexcept;
    deadline_watch(const deadline_watch&) = delete;
    deadline_watch& operator=(const deadline_watch&) = delete;

    // Before a dequeue: the timeout to wait with (INFINITE when no deadline exists) and whether to
    // wait alertably (the precise timer is armed).
    [[nodiscard]] DWORD begin_wait(waiter& w, bool& alertable) noexcept;
    // After the dequeue returned, for whatever reason; `precise_fired` when the precise timer's
    // APC ended it (WAIT_IO_COMPLETION).
    void end_wait(waiter& w, bool precise_fired) noexcept;

    // The timer queue's notice: `when` became the earliest deadline.
    void earlier(clock::time_point when) noexcept;
    // Whether the workers' waiters get precise timers (probed once at construction).
    [[nodiscard]] bool precise() const noexcept { return precise_; }
    // A worker dequeued the wake packet.
    void wake_received() noexcept { wake_posted_.store(false, std::memory_order_release); }
    // Before a worker runs a completion (it may stay busy for long): when the earliest deadline is
    // unwatched while a worker waits with no timeout (it began waiting before any deadline
    // existed, so it would never stand in for a claimant taken away by a long callback; Windows
    // hands a packet to the worker that waited last, often the claimant itself), wakes one worker
    // so that it claims it. One atomic load when no worker waits blind, which in the default
    // configuration is always (the sweep is a deadline from before the workers start). Without
    // the sweep (buffered receives, no idle timeout) a worker can stay blind while timers are
    // pending, and then each claimant that takes a completion posts one wake: a cost, bounded by
    // the completions, that only ends when the blind worker is woken.
    void before_busy() noexcept;

private:
    const timer_queue& timers_;
    completion_port& port_;
    // The earliest deadline some worker waits for (time_point::max(): none).
    std::atomic<clock::rep> watched_{clock::time_point::max().time_since_epoch().count()};
    std::atomic<bool> wake_posted_{false};  // one wake packet in the port at a time
    std::atomic<unsigned> blind_waiters_{0};  // workers waiting with no timeout
    bool precise_ = false;
};

}  // namespace wire::detail
