#include "core/timer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace wire::detail {
namespace {

using namespace std::chrono_literals;

template <typename Predicate>
bool wait_until(Predicate done) {
    // Bounds a hang only. The nearer-timer test relies on it being far below the 1 h timer.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    return done();
}

TEST(TimerQueue, RunsCallbacksInDeadlineOrder) {
    timer_queue timers;
    std::mutex mutex;
    std::vector<int> order;
    const auto now = timer_queue::clock::now();
    for (int i : {3, 1, 2}) {
        timers.schedule(now + std::chrono::milliseconds(20 * i), [&, i] {
            std::lock_guard lock(mutex);
            order.push_back(i);
        });
    }
    ASSERT_TRUE(wait_until([&] {
        std::lock_guard lock(mutex);
        return order.size() == 3;
    }));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueue, CancelledCallbackNeverRuns) {
    timer_queue timers;
    std::atomic<int> ran{0};
    const auto id = timers.schedule_after(50ms, [&] { ++ran; });
    std::atomic<bool> marker{false};
    timers.schedule_after(100ms, [&] { marker = true; });
    EXPECT_TRUE(timers.cancel(id));
    EXPECT_FALSE(timers.cancel(id));  // unknown now
    ASSERT_TRUE(wait_until([&] { return marker.load(); }));
    EXPECT_EQ(ran.load(), 0);
}

TEST(TimerQueue, StopDropsPendingCallbacks) {
    std::atomic<int> ran{0};
    {
        timer_queue timers;
        timers.schedule_after(1h, [&] { ++ran; });
        EXPECT_EQ(timers.pending(), 1U);
        timers.stop();
        EXPECT_EQ(timers.pending(), 0U);
    }
    EXPECT_EQ(ran.load(), 0);
}

TEST(TimerQueue, EarlierTimerScheduledLaterStillRunsFirst) {
    // The thread already sleeps towards a far deadline; a nearer one must wake it.
    timer_queue timers;
    std::atomic<bool> far_ran{false};
    std::atomic<bool> near_ran{false};
    timers.schedule_after(1h, [&] { far_ran = true; });
    std::this_thread::sleep_for(20ms);
    timers.schedule_after(1ms, [&] { near_ran = true; });
    ASSERT_TRUE(wait_until([&] { return near_ran.load(); }));
    EXPECT_FALSE(far_ran.load());
}

TEST(TimerQueue, CallbackMayScheduleAnother) {
    timer_queue timers;
    std::atomic<int> ran{0};
    timers.schedule_after(1ms, [&] {
        ++ran;
        timers.schedule_after(1ms, [&] { ++ran; });
    });
    ASSERT_TRUE(wait_until([&] { return ran.load() == 2; }));
}

TEST(TimerQueue, HugeDelaysSaturateInsteadOfFiringAtOnce) {
    // now() + milliseconds::max() overflowed (at 8d66114 the conversion to nanoseconds alone did):
    // the deadline landed anywhere, in the past as often as not, and the callback ran at once.
    timer_queue timers;
    std::atomic<int> ran{0};
    timers.schedule_after(std::chrono::milliseconds::max(), [&] { ++ran; });
    timers.schedule_after(std::chrono::hours::max(), [&] { ++ran; });
    timers.schedule_after(timer_queue::clock::duration::max(), [&] { ++ran; });
    std::atomic<bool> marker{false};
    timers.schedule_after(10ms, [&] { marker = true; });
    ASSERT_TRUE(wait_until([&] { return marker.load(); }));
    EXPECT_EQ(ran.load(), 0);
    EXPECT_EQ(timers.pending(), 3U);
}

TEST(TimerQueue, FarDeadlineDoesNotMakeTheThreadSpin) {
    // A deadline at time_point::max() (where huge delays now saturate to) must not reach the
    // standard library's deadline conversion, which overflows for it (MinGW's libstdc++ adds it
    // to system_clock::now()); the queue waits in bounded slices instead. A sleeping thread wakes
    // a handful of times at most, one whose waits return at once would wake millions of times.
    timer_queue timers;
    timers.schedule_after(std::chrono::milliseconds::max(), [] {});
    timers.schedule(timer_queue::clock::time_point::max(), [] {});
    ASSERT_TRUE(wait_until([&] { return timers.wakeups() >= 1; }));
    const auto before = timers.wakeups();
    std::this_thread::sleep_for(200ms);  // not a measurement: long enough for a spin to show
    EXPECT_LT(timers.wakeups() - before, 100U);
    // And it still wakes for a nearer deadline.
    std::atomic<bool> near_ran{false};
    timers.schedule_after(1ms, [&] { near_ran = true; });
    EXPECT_TRUE(wait_until([&] { return near_ran.load(); }));
}

}  // namespace
}  // namespace wire::detail
