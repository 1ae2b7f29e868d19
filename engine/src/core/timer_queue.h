#pragma once
// Deadlines for connect, graceful close and idle sweeps, run by one thread of their own.
// Callbacks run on that thread and must be short and non-blocking: the engine's only post work
// (an abort, a cancel) that the completion path then finishes. Platform-neutral.
#include "core/saturating_time.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace wire::detail {

class timer_queue {
public:
    using clock = std::chrono::steady_clock;
    using timer_id = std::uint64_t;

    timer_queue();
    ~timer_queue();  // stops: pending callbacks are dropped without running
    timer_queue(const timer_queue&) = delete;
    timer_queue& operator=(const timer_queue&) = delete;

    // Runs `callback` once at `when` (or soon after). Returns an id for cancel(). Throws bad_alloc only.
    timer_id schedule(clock::time_point when, std::function<void()> callback);
    // A delay too large for the clock (milliseconds::max() as "never") saturates to the latest
    // time_point rather than overflowing into the past.
    template <typename Rep, typename Period>
    timer_id schedule_after(std::chrono::duration<Rep, Period> delay, std::function<void()> callback) {
        return schedule(saturating_add(clock::now(), delay), std::move(callback));
    }
    // true when the callback was removed before it started; false when it ran, is running, or is unknown.
    bool cancel(timer_id id) noexcept;
    // Drops every pending callback and joins the thread; waits for a running callback to return.
    void stop() noexcept;
    [[nodiscard]] std::size_t pending() const noexcept;
    // How many times the thread has woken up to look at the queue (tests: a far deadline must not
    // make it spin).
    [[nodiscard]] std::uint64_t wakeups() const noexcept;

private:
    void run();

    struct entry {
        timer_id id;
        std::function<void()> callback;
    };
    mutable std::mutex mutex_;
    // A plain flag under mutex_ rather than the jthread's stop token: waiting on a
    // condition_variable_any with a stop token lost the stop's wake-up now and then under
    // MinGW/Wine (a 1 h deadline then held stop() for the whole hour).
    bool stopping_ = false;
    std::condition_variable wake_;
    std::multimap<clock::time_point, entry> by_deadline_;
    std::map<timer_id, clock::time_point> deadlines_;
    timer_id next_id_ = 1;
    std::uint64_t wakeups_ = 0;
    std::jthread thread_;  // last: started after every member it uses exists
};

}  // namespace wire::detail
