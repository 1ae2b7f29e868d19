// The timer queue has no thread: the caller says what time it is, so these tests drive time
// themselves and assert exact outcomes (the engine's workers supply the real clock; the engine
// tests in timer_test.cpp cover that side).
#include "core/timer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wire::detail {
namespace {

using namespace std::chrono_literals;
using clock = timer_queue::clock;

TEST(TimerQueue, RunsCallbacksInDeadlineOrderOnlyOnceDue) {
    timer_queue timers;
    std::vector<int> order;
    const auto t0 = clock::now();
    for (int i : {3, 1, 2}) {
        timers.schedule(t0 + std::chrono::milliseconds(20 * i), [&order, i] { order.push_back(i); });
    }
    EXPECT_EQ(timers.next_deadline(), t0 + 20ms);
    EXPECT_EQ(timers.run_due(t0 + 19ms), 0U);
    EXPECT_TRUE(order.empty());
    EXPECT_EQ(timers.run_due(t0 + 40ms), 2U);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_EQ(timers.next_deadline(), t0 + 60ms);
    EXPECT_EQ(timers.run_due(t0 + 1h), 1U);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(timers.next_deadline(), clock::time_point::max());
    EXPECT_EQ(timers.pending(), 0U);
}

TEST(TimerQueue, CancelledCallbackNeverRuns) {
    timer_queue timers;
    const auto t0 = clock::now();
    int ran = 0;
    const auto id = timers.schedule(t0 + 10ms, [&] { ++ran; });
    const auto kept = timers.schedule(t0 + 20ms, [&] { ran += 10; });
    EXPECT_TRUE(timers.cancel(id));
    EXPECT_FALSE(timers.cancel(id));  // once only
    EXPECT_EQ(timers.next_deadline(), t0 + 20ms);
    timers.run_due(t0 + 1s);
    EXPECT_EQ(ran, 10);
    EXPECT_FALSE(timers.cancel(kept));  // it has run
}

TEST(TimerQueue, ClearDropsPendingCallbacksWithoutRunningThem) {
    timer_queue timers;
    auto captured = std::make_shared<int>(0);
    bool ran = false;
    timers.schedule(clock::now() + 1ms, [&ran, captured] { ran = true; });
    EXPECT_EQ(captured.use_count(), 2);
    timers.clear();
    EXPECT_EQ(captured.use_count(), 1);  // the callback is destroyed, not kept
    EXPECT_EQ(timers.run_due(clock::now() + 1h), 0U);
    EXPECT_FALSE(ran);
}

TEST(TimerQueue, OnlyANewEarliestDeadlineIsNoticed) {
    std::vector<clock::time_point> noticed;
    timer_queue timers([&](clock::time_point when) { noticed.push_back(when); });
    const auto t0 = clock::now();
    timers.schedule(t0 + 50ms, [] {});
    timers.schedule(t0 + 80ms, [] {});  // later than the earliest: no one needs waking
    timers.schedule(t0 + 10ms, [] {});
    EXPECT_EQ(noticed, (std::vector<clock::time_point>{t0 + 50ms, t0 + 10ms}));
}

TEST(TimerQueue, CallbackMayScheduleAndCancel) {
    timer_queue timers;
    const auto t0 = clock::now();
    int ran = 0;
    timer_queue::timer_id victim = 0;
    timers.schedule(t0 + 1ms, [&] {
        ++ran;
        timers.schedule(t0 + 2ms, [&] { ++ran; });  // due already: the same run_due takes it
        EXPECT_TRUE(timers.cancel(victim));
    });
    victim = timers.schedule(t0 + 3ms, [&] { ran += 100; });
    EXPECT_EQ(timers.run_due(t0 + 5ms), 2U);
    EXPECT_EQ(ran, 2);
    EXPECT_EQ(timers.pending(), 0U);
}

TEST(TimerQueue, HugeDelaysSaturateInsteadOfFiringAtOnce) {
    // now() + milliseconds::max() overflowed (at 8d66114 the conversion to nanoseconds alone did):
    // the deadline landed anywhere, in the past as often as not, and the callback ran at once.
    timer_queue timers;
    int ran = 0;
    timers.schedule_after(std::chrono::milliseconds::max(), [&] { ++ran; });
    timers.schedule_after(std::chrono::hours::max(), [&] { ++ran; });
    timers.schedule_after(clock::duration::max(), [&] { ++ran; });
    EXPECT_EQ(timers.run_due(clock::now() + 24h * 365 * 100), 0U);
    EXPECT_EQ(ran, 0);
    EXPECT_EQ(timers.pending(), 3U);
    // "Never": the workers see no deadline to wait for.
    EXPECT_EQ(timers.next_deadline(), clock::time_point::max());
}

TEST(TimerQueue, PeriodicTimerKeepsItsCadenceAndSkipsMissedPeriods) {
    timer_queue timers;
    const auto t0 = clock::now();
    int ran = 0;
    timers.schedule(t0 + 10ms, [&] { ++ran; }, 10ms);
    EXPECT_EQ(timers.run_due(t0 + 13ms), 1U);
    // Due again one period after its deadline, not after the late run: no drift.
    EXPECT_EQ(timers.next_deadline(), t0 + 20ms);
    EXPECT_EQ(timers.run_due(t0 + 20ms), 1U);
    EXPECT_EQ(timers.next_deadline(), t0 + 30ms);
    // Nobody looked for 35 ms: one run, not four back to back, and the cadence continues.
    EXPECT_EQ(timers.run_due(t0 + 65ms), 1U);
    EXPECT_EQ(timers.next_deadline(), t0 + 70ms);
    EXPECT_EQ(ran, 3);
    EXPECT_EQ(timers.pending(), 1U);
}

TEST(TimerQueue, APeriodicTimerCancelledWhileRunningIsNotRunAgain) {
    timer_queue timers;
    const auto t0 = clock::now();
    int ran = 0;
    timer_queue::timer_id id = 0;
    id = timers.schedule(
        t0 + 1ms,
        [&] {
            ++ran;
            EXPECT_FALSE(timers.cancel(id));  // running: cannot be unrun, but ends here
        },
        1ms);
    timers.run_due(t0 + 1ms);
    EXPECT_EQ(timers.pending(), 0U);
    EXPECT_EQ(timers.run_due(t0 + 1h), 0U);
    EXPECT_EQ(ran, 1);
}

TEST(TimerQueue, DroppingTheApplicationsTimersKeepsTheEngines) {
    timer_queue timers;
    const auto t0 = clock::now();
    std::vector<int> ran;
    timers.schedule(t0 + 1ms, [&] { ran.push_back(1); }, {}, timer_queue::owner::application);
    timers.schedule(t0 + 2ms, [&] { ran.push_back(2); }, 5ms, timer_queue::owner::application);
    timers.schedule(t0 + 3ms, [&] { ran.push_back(3); }, {}, timer_queue::owner::engine);
    timers.drop_application_timers();
    EXPECT_EQ(timers.pending(), 1U);
    timers.run_due(t0 + 1h);
    EXPECT_EQ(ran, (std::vector<int>{3}));
}

// A callback's captures are destroyed after the queue's lock is released, by run_due and by
// cancel alike: their destructors may use the queue (with the lock held this self-deadlocked).
TEST(TimerQueue, CapturesMayUseTheQueueInTheirDestructors) {
    timer_queue timers;
    const auto t0 = clock::now();
    struct cancels_on_destruction {
        timer_queue& queue;
        timer_queue::timer_id victim;
        ~cancels_on_destruction() { queue.cancel(victim); }
    };
    const auto victim_of_run = timers.schedule(t0 + 1h, [] {});
    const auto victim_of_cancel = timers.schedule(t0 + 1h, [] {});
    {
        auto runs = std::make_shared<cancels_on_destruction>(cancels_on_destruction{timers, victim_of_run});
        timers.schedule(t0 + 1ms, [runs] {});
    }
    timer_queue::timer_id cancelled = 0;
    {
        auto dropped = std::make_shared<cancels_on_destruction>(cancels_on_destruction{timers, victim_of_cancel});
        cancelled = timers.schedule(t0 + 2h, [dropped] {});
    }
    EXPECT_EQ(timers.run_due(t0 + 1s), 1U);  // the one-shot runs, then its capture cancels victim_of_run
    EXPECT_FALSE(timers.will_run(victim_of_run));
    EXPECT_TRUE(timers.cancel(cancelled));  // destroying this capture cancels victim_of_cancel
    EXPECT_FALSE(timers.will_run(victim_of_cancel));
    EXPECT_EQ(timers.pending(), 0U);
}

TEST(TimerQueue, SeveralThreadsRunEachDueCallbackExactlyOnce) {
    timer_queue timers;
    const auto t0 = clock::now();
    constexpr int count = 2000;
    std::vector<std::atomic<int>> runs(count);
    for (int i = 0; i < count; ++i) {
        timers.schedule(t0 + std::chrono::microseconds(i), [&runs, i] { runs[static_cast<std::size_t>(i)].fetch_add(1); });
    }
    std::atomic<std::size_t> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] { total += timers.run_due(t0 + 1s); });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(total.load(), static_cast<std::size_t>(count));
    for (const auto& r : runs) {
        ASSERT_EQ(r.load(), 1);
    }
}

}  // namespace
}  // namespace wire::detail
