#pragma once
// Deadlines, kept in order; no thread of its own. The engine's workers wait in the completion
// port with the earliest deadline as their timeout and call run_due() after each wake-up, so
// timers run on the workers (see win/deadline_watch.h). Platform-neutral: the caller supplies
// "now", which also lets tests drive time.
//
// Callbacks run outside the lock and are destroyed outside it (their captures may call back into
// the queue from their destructors), one due entry at a time per caller; several workers may run
// different due callbacks at once. A periodic timer is due again at its previous deadline plus
// its period (no drift); periods missed while nobody looked are skipped, not run in a burst.
#include "core/saturating_time.h"
#include "core/slim_mutex.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>

namespace wire::detail {

class timer_queue {
public:
    using clock = std::chrono::steady_clock;
    using timer_id = std::uint64_t;
    // Told (outside the lock) when a schedule() makes `when` the earliest deadline, so that a
    // waiting worker whose timeout is later can be woken. Must not call back into the queue.
    using earlier_notice = std::function<void(clock::time_point when)>;

    // Who asked for a timer: the engine's own (connect and close deadlines, sweeps, retries) run
    // until the workers stop; the application's are dropped when the engine begins to stop.
    enum class owner : std::uint8_t { engine, application };

    explicit timer_queue(earlier_notice notice = {}) : notice_(std::move(notice)) {}
    timer_queue(const timer_queue&) = delete;
    timer_queue& operator=(const timer_queue&) = delete;

    // Runs `callback` at `when` (or soon after); with a positive `period` again every period after
    // that. Returns an id for cancel(). Throws bad_alloc only.
    timer_id schedule(clock::time_point when, std::function<void()> callback, clock::duration period = {},
                      owner who = owner::engine);
    // A delay too large for the clock (milliseconds::max() as "never") saturates to the latest
    // time_point rather than overflowing into the past.
    template <typename Rep, typename Period>
    timer_id schedule_after(std::chrono::duration<Rep, Period> delay, std::function<void()> callback) {
        return schedule(saturating_add(clock::now(), delay), std::move(callback));
    }
    // true when the callback was removed before it started. false when it has run (one-shot), is
    // running, or is unknown; a periodic timer cancelled while its callback runs is not run again.
    bool cancel(timer_id id) noexcept;

    // The earliest pending deadline, time_point::max() when none: one atomic load, for the
    // workers' hot path.
    [[nodiscard]] clock::time_point next_deadline() const noexcept {
        return clock::time_point(clock::duration(next_.load(std::memory_order_acquire)));
    }
    // Runs the callbacks due at `now`, in deadline order; returns how many ran.
    std::size_t run_due(clock::time_point now);

    // Inside a callback run by run_due: that timer's id (0 elsewhere), e.g. for a one-shot timer to
    // forget itself.
    [[nodiscard]] static timer_id running_id() noexcept;

    // Drops the application's pending timers without running them (the engine is stopping).
    void drop_application_timers() noexcept;
    // Drops every pending callback without running it (the workers have stopped).
    void clear() noexcept;
    [[nodiscard]] std::size_t pending() const noexcept;
    // Whether `id` will still run: scheduled, or a periodic timer running now and not cancelled.
    [[nodiscard]] bool will_run(timer_id id) const noexcept;

private:
    struct entry {
        timer_id id;
        std::function<void()> callback;
        clock::duration period;
        owner who;
    };
    using deadline_map = std::multimap<clock::time_point, entry>;

    void publish_next_locked() noexcept;

    earlier_notice notice_;
    mutable slim_mutex mutex_;
    deadline_map by_deadline_;
    std::map<timer_id, clock::time_point> deadlines_;
    // Periodic timers whose callback is running now, and whether cancel() was asked meanwhile.
    struct running_state {
        bool cancelled;
        owner who;
    };
    std::map<timer_id, running_state> running_periodic_;
    timer_id next_id_ = 1;
    std::atomic<clock::rep> next_{clock::time_point::max().time_since_epoch().count()};
};

}  // namespace wire::detail
