#include "win/deadline_watch.h"

#include "win/system_calls.h"

#include <algorithm>

namespace wire::detail {

namespace {

using clock = deadline_watch::clock;

// Beyond this a deadline is approached with a coarse dequeue timeout that ends a little early,
// and the precise timer is armed only for what is left: two system ticks of slack.
constexpr std::chrono::milliseconds coarse_slack{32};

// How far past a deadline the workers that do not watch it wait: enough for the watcher to run it
// first when it is free (so only one worker wakes for it), short enough to stand in when it is not.
constexpr std::chrono::milliseconds backup_slack{2};

// The longest timeout a dequeue takes (INFINITE is 0xFFFFFFFF): a far deadline is looked at again
// after this, harmless.
constexpr DWORD longest_timeout = 24U * 60U * 60U * 1000U;

DWORD milliseconds_until(clock::duration left) noexcept {
    if (left <= clock::duration::zero()) {
        return 0;
    }
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<DWORD>(std::min<long long>(ms, longest_timeout));
}

// CREATE_WAITABLE_TIMER_HIGH_RESOLUTION (Windows 10 1803 SDK); older headers, MinGW's among them,
// lack the name. Where the system lacks the feature the call fails and the coarse timeout serves.
constexpr DWORD high_resolution_timer = 0x00000002;

// The precise timer's APC: running it is what ends the alertable wait; nothing else to do.
void CALLBACK precise_timer_fired(LPVOID /*context*/, DWORD /*low*/, DWORD /*high*/) noexcept {}

}  // namespace

deadline_watch::waiter::waiter() noexcept
    : precise_timer_(sys().create_waitable_timer_ex(nullptr, nullptr, high_resolution_timer,
                                                    TIMER_ALL_ACCESS)) {}

deadline_watch::deadline_watch(const timer_queue& timers, completion_port& port) noexcept
    : timers_(timers), port_(port), precise_(waiter().precise()) {}

DWORD deadline_watch::begin_wait(waiter& w, bool& alertable) noexcept {
    alertable = false;
    clock::time_point next = timers_.next_deadline();
    if (next == clock::time_point::max()) {
        // Counted before looking again: a deadline scheduled meanwhile is either seen here or,
        // once claimed and left by a busy claimant, makes before_busy() wake a worker.
        w.blind_ = true;
        blind_waiters_.fetch_add(1, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        next = timers_.next_deadline();
        if (next == clock::time_point::max()) {
            return INFINITE;
        }
        w.blind_ = false;
        blind_waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
    clock::rep watched = watched_.load(std::memory_order_acquire);
    const clock::rep wanted = next.time_since_epoch().count();
    for (;;) {
        if (wanted >= watched) {
            // Someone watches this deadline or an earlier one. It may be busy in callbacks when the
            // deadline comes, so this worker waits a little past it too: a due timer then waits
            // for a busy worker only when every worker is busy.
            return milliseconds_until(next - clock::now() + backup_slack);
        }
        if (watched_.compare_exchange_weak(watched, wanted, std::memory_order_acq_rel)) {
            break;
        }
    }
    w.claimed_ = next;
    const clock::duration left = next - clock::now();
    if (!w.precise() || left > coarse_slack) {
        return milliseconds_until(w.precise() ? left - coarse_slack / 2 : left);
    }
    if (left <= clock::duration::zero()) {
        return 0;
    }
    if (w.armed_ != next) {
        // Relative due time in 100 ns units (negative = relative).
        LARGE_INTEGER due;
        // Rounded up: the timer must not fire before the deadline (run_due would find nothing due).
        const auto ticks = (std::chrono::duration_cast<std::chrono::nanoseconds>(left).count() + 99) / 100;
        due.QuadPart = -std::max<long long>(1, ticks);
        if (sys().set_waitable_timer(w.precise_timer_.get(), &due, 0, &precise_timer_fired, nullptr, FALSE) == FALSE) {
            return milliseconds_until(left);  // the coarse timeout still bounds the wait
        }
        w.armed_ = next;
    }
    alertable = true;
    // The coarse timeout stays as a bound in case the APC is late.
    return milliseconds_until(left) + 1;
}

void deadline_watch::end_wait(waiter& w, bool precise_fired) noexcept {
    if (w.blind_) {
        w.blind_ = false;
        blind_waiters_.fetch_sub(1, std::memory_order_acq_rel);
    }
    if (precise_fired) {
        w.armed_ = clock::time_point::max();  // its APC has run: arm afresh next time
    }
    if (w.claimed_ == clock::time_point::max()) {
        return;
    }
    clock::rep mine = w.claimed_.time_since_epoch().count();
    // Only if no one claimed an earlier deadline meanwhile.
    watched_.compare_exchange_strong(mine, clock::time_point::max().time_since_epoch().count(), std::memory_order_acq_rel);
    if (w.armed_ <= clock::now()) {
        w.armed_ = clock::time_point::max();  // fired (or about to): arm afresh next time
    }
    w.claimed_ = clock::time_point::max();
}

void deadline_watch::before_busy() noexcept {
    if (blind_waiters_.load(std::memory_order_acquire) == 0 ||
        timers_.next_deadline() == clock::time_point::max() ||
        watched_.load(std::memory_order_acquire) != clock::time_point::max().time_since_epoch().count()) {
        return;  // nobody waits blind, nothing is pending, or a waiting worker watches it
    }
    if (wake_posted_.exchange(true, std::memory_order_acq_rel)) {
        return;  // the worker that takes the pending wake claims the deadline
    }
    if (!port_.post_wake()) {
        wake_posted_.store(false, std::memory_order_release);  // found when a worker next wakes
    }
}

void deadline_watch::earlier(clock::time_point when) noexcept {
    if (when.time_since_epoch().count() >= watched_.load(std::memory_order_acquire)) {
        return;  // a worker already waits for this deadline or an earlier one
    }
    if (wake_posted_.exchange(true, std::memory_order_acq_rel)) {
        return;  // the worker that takes the pending wake looks at the new deadline
    }
    if (!port_.post_wake()) {
        // No memory for a packet: the deadline is found when a worker next wakes up for any reason.
        wake_posted_.store(false, std::memory_order_release);
    }
}

}  // namespace wire::detail
