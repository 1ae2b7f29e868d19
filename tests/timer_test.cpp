// Timers on the engine's workers (engine::after / every, connection::after / every): order,
// cancel and its races, periodic timers, stop, connections' timers dying with them, and that no
// thread exists only to wait for time. Assertions are about what ran, never about when.
#include "fault_platform.h"
#include "test_support.h"

// Every Windows SDK and MinGW have it; the reduced header set of tools' MSVC-mode check does not.
#if __has_include(<tlhelp32.h>)
#include <tlhelp32.h>
#define WIRE_HAS_TOOLHELP 1
#endif

#include "win/system_calls.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>

namespace wire::test {
namespace {

#ifdef WIRE_HAS_TOOLHELP
// Threads of this process now (Toolhelp snapshot).
std::size_t thread_count() {
    const HANDLE snapshot = ::CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    EXPECT_NE(snapshot, INVALID_HANDLE_VALUE);
    std::size_t count = 0;
    THREADENTRY32 entry{};
    entry.dwSize = sizeof(entry);
    const DWORD self = ::GetCurrentProcessId();
    for (BOOL more = ::Thread32First(snapshot, &entry); more != FALSE; more = ::Thread32Next(snapshot, &entry)) {
        if (entry.th32OwnerProcessID == self) {
            ++count;
        }
    }
    ::CloseHandle(snapshot);
    return count;
}
#endif

engine_options one_worker() {
    engine_options options;
    options.worker_threads = 1;
    return options;
}

TEST(Timers, NoThreadExistsOnlyToWaitForTime) {
#ifndef WIRE_HAS_TOOLHELP
    GTEST_SKIP() << "no <tlhelp32.h> to count threads with";
#else
    // Before this change the engine ran a timer thread beside its workers: one thread more.
    for (unsigned workers : {1U, 3U}) {
        const std::size_t before = thread_count();
        engine_options options;
        options.worker_threads = workers;
        options.idle_timeout = 10s;  // the idle sweep and parking are timers too
        engine e(options);
        std::atomic<int> ran{0};
        timer t = e.every(1ms, [&] { ++ran; });
        ASSERT_TRUE(eventually([&] { return ran.load() >= 3; }));
        EXPECT_EQ(thread_count() - before, workers) << "workers: " << workers;
        t.cancel();
    }
#endif
}

// A system without high-resolution waitable timers (before Windows 10 1803): creating one fails,
// and the workers wait with the coarse dequeue timeout alone.
HANDLE WINAPI no_precise_timer(LPSECURITY_ATTRIBUTES, LPCWSTR, DWORD flags, DWORD) {
    ::SetLastError(flags != 0 ? ERROR_INVALID_PARAMETER : ERROR_SUCCESS);
    return nullptr;
}

TEST(Timers, WithoutPreciseTimersTheCoarseWaitStillRunsThemInOrder) {
    detail::system_calls table = detail::native_system_calls();
    table.create_waitable_timer_ex = &no_precise_timer;
    detail::install_system_calls(&table);
    {
        engine e(one_worker());
        EXPECT_FALSE(e.features().precise_timers);
        std::mutex mutex;
        std::vector<int> order;
        for (int i : {3, 1, 2}) {
            e.after(std::chrono::milliseconds(5 * i), [&, i] {
                std::lock_guard lock(mutex);
                order.push_back(i);
            });
        }
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(mutex);
            return order.size() == 3;
        }));
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    }
    detail::install_system_calls(nullptr);
}

TEST(Timers, PreciseTimersAreProbedNotAssumed) {
    engine e;
    // Whatever the platform answers, the feature reports what creating one did.
    const HANDLE probe = ::CreateWaitableTimerExW(nullptr, nullptr, 0x00000002, TIMER_ALL_ACCESS);
    EXPECT_EQ(e.features().precise_timers, probe != nullptr);
    RecordProperty("precise_timers", e.features().precise_timers ? "yes" : "no");
    if (probe != nullptr) {
        ::CloseHandle(probe);
    }
}

TEST(Timers, RunOnTheWorkersInDeadlineOrder) {
    engine e(one_worker());  // one worker: runs are strictly sequential, so order is exact
    std::mutex mutex;
    std::vector<int> order;
    std::set<DWORD> threads;
    for (int i : {5, 1, 4, 2, 3}) {
        e.after(std::chrono::milliseconds(10 * i), [&, i] {
            std::lock_guard lock(mutex);
            order.push_back(i);
            threads.insert(::GetCurrentThreadId());
        });
    }
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return order.size() == 5;
    }));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
    EXPECT_EQ(threads.size(), 1U);
    EXPECT_EQ(threads.count(::GetCurrentThreadId()), 0U);
    // The same worker serves posted work: timers share it, no other thread.
    std::atomic<DWORD> post_thread{0};
    ASSERT_FALSE(e.post([&] { post_thread = ::GetCurrentThreadId(); }));
    ASSERT_TRUE(eventually([&] { return post_thread.load() != 0; }));
    EXPECT_EQ(threads.count(post_thread.load()), 1U);
}

TEST(Timers, AnEarlierTimerSetWhileTheWorkerWaitsForALaterOneRunsFirst) {
    engine e(one_worker());
    std::atomic<int> late{0};
    std::atomic<int> early{0};
    e.after(1h, [&] { ++late; });  // the worker now waits for this one
    std::this_thread::sleep_for(20ms);  // not a measurement: lets the worker settle into that wait
    e.after(5ms, [&] { ++early; });
    ASSERT_TRUE(eventually([&] { return early.load() == 1; }));
    EXPECT_EQ(late.load(), 0);
}

// Found in review: only the worker that claimed the deadline waited with a timeout, and when it
// was busy in a long callback the timer waited for it although the other worker was idle.
TEST(Timers, ADueTimerDoesNotWaitForABusyWorkerWhileAnotherIsIdle) {
    engine_options options;
    options.worker_threads = 2;
    engine e(options);
    for (int round = 0; round < 8; ++round) {
        std::atomic<bool> timer_ran{false};
        std::atomic<bool> ran_while_busy{false};
        std::atomic<bool> job_done{false};
        e.after(100ms, [&] { timer_ran = true; });
        std::this_thread::sleep_for(30ms);  // not a measurement: lets a worker claim the deadline
        // One worker stays busy until the timer has run (bounded); the other is idle meanwhile.
        ASSERT_FALSE(e.post([&] {
            ran_while_busy = eventually([&] { return timer_ran.load(); }, 3s);
            job_done = true;
        }));
        ASSERT_TRUE(eventually([&] { return job_done.load(); }));
        EXPECT_TRUE(ran_while_busy.load()) << "round " << round << ": the timer waited for the busy worker";
    }
}

// Found by CI (the test above failed 1 in ~20 runs beside another test): a worker that began
// waiting before any deadline existed waits with no timeout, and only one worker was woken to claim
// a new deadline; when that claimant was then taken by a long callback, the deadline waited for it
// although the other worker was idle. Windows hands a packet to the worker that waited last, i.e.
// often the claimant; here the seam makes sure of it by holding the other worker just before its
// wait (counted as waiting blind), so that the job can only land on the claimant.
TEST(Timers, ADeadlineIsNotLeftToABusyClaimantWhileAnotherWorkerWaitsWithNoTimeout) {
    fault_platform platform;
    engine_options options;
    options.worker_threads = 2;
    options.receive = receive_mode::buffered;  // no sweep: without timers the workers wait with no timeout
    options.idle_timeout = std::chrono::milliseconds(0);
    engine e(options);
    call_hold blind_wait(platform, syscall::dequeue);  // after the engine: released before it stops
    // One worker runs this, then begins its next wait (no deadline: no timeout) and is held in the
    // seam just before it.
    blind_wait.arm();
    ASSERT_FALSE(e.post([] {}));
    ASSERT_TRUE(eventually([&] { return blind_wait.held(); }));
    // The other worker, the only one on the port, takes the wake for this deadline and claims it.
    std::atomic<bool> timer_ran{false};
    e.after(200ms, [&] { timer_ran = true; });
    std::this_thread::sleep_for(50ms);  // not a measurement: lets it claim the deadline first
    // ... and then this job, which stays busy until the timer has run (bounded).
    std::atomic<bool> job_started{false};
    std::atomic<bool> ran_while_busy{false};
    std::atomic<bool> job_done{false};
    ASSERT_FALSE(e.post([&] {
        job_started = true;
        ran_while_busy = eventually([&] { return timer_ran.load(); }, 3s);
        job_done = true;
    }));
    ASSERT_TRUE(eventually([&] { return job_started.load(); }));
    blind_wait.release();  // the held worker now waits, with no timeout of its own
    ASSERT_TRUE(eventually([&] { return job_done.load(); }));
    EXPECT_TRUE(ran_while_busy.load()) << "the deadline waited for the busy worker";
    e.stop();
}

// Found in review: the queue destroyed a callback with its lock held; a capture whose destructor
// cancels a timer then deadlocked the worker (and every later schedule).
TEST(Timers, ACallbacksCapturesMayCancelTimersWhenDestroyed) {
    engine e(one_worker());
    struct canceller {
        std::shared_ptr<timer> victim;
        ~canceller() {
            if (victim) {
                victim->cancel();
            }
        }
    };
    auto victim = std::make_shared<timer>(e.after(1h, [] {}));
    std::atomic<bool> ran{false};
    {
        auto c = std::make_shared<canceller>();
        c->victim = victim;
        e.after(5ms, [c, &ran] { ran = true; });
    }
    ASSERT_TRUE(eventually([&] { return ran.load(); }, 10s));
    auto later = std::make_shared<std::atomic<bool>>(false);
    // Scheduled from another thread, which is joined before the engine goes: the timer may run
    // (and `later` be seen) while that thread is still inside after(), building its handle. (It
    // was detached: under load its after() read the engine after the test had destroyed it.)
    std::thread scheduler([&e, later] { e.after(1ms, [later] { *later = true; }); });
    if (!eventually([&] { return later->load(); }, 10s)) {
        std::fprintf(stderr, "the timer queue is wedged (a worker deadlocked on its lock)\n");
        std::fflush(stderr);
        std::_Exit(1);  // the engine cannot be stopped: leave rather than hang in its destructor
    }
    scheduler.join();
    EXPECT_FALSE(victim->cancel());  // the capture's destructor cancelled it
}

TEST(Timers, ACancelledTimerNeverRuns) {
    engine e(one_worker());
    std::atomic<int> cancelled_ran{0};
    std::atomic<int> marker{0};
    timer t = e.after(20ms, [&] { ++cancelled_ran; });
    ASSERT_TRUE(t);
    EXPECT_TRUE(t.cancel());
    EXPECT_FALSE(t.cancel());  // once
    e.after(40ms, [&] { ++marker; });
    ASSERT_TRUE(eventually([&] { return marker.load() == 1; }));  // one worker: past the cancelled deadline
    EXPECT_EQ(cancelled_ran.load(), 0);
    timer ran = e.after(1ms, [&] { ++marker; });
    ASSERT_TRUE(eventually([&] { return marker.load() == 2; }));
    EXPECT_FALSE(ran.cancel());  // it has run
    EXPECT_FALSE(timer{}.cancel());
}

TEST(Timers, CancelRacingTheDeadlineRunsEachTimerAtMostOnceAndTellsTheTruth) {
    engine e;
    constexpr int count = 400;
    std::vector<std::atomic<int>> runs(count);
    std::vector<timer> timers(count);
    std::mt19937 random(12345);
    for (int i = 0; i < count; ++i) {
        const auto delay = std::chrono::microseconds(random() % 20'000);
        timers[static_cast<std::size_t>(i)] = e.after(delay, [&runs, i] { runs[static_cast<std::size_t>(i)].fetch_add(1); });
    }
    std::vector<std::atomic<bool>> prevented(count);
    std::vector<std::thread> cancellers;
    for (int c = 0; c < 2; ++c) {
        cancellers.emplace_back([&, c] {
            for (int i = c; i < count; i += 2) {
                prevented[static_cast<std::size_t>(i)] = timers[static_cast<std::size_t>(i)].cancel();
                if (i % 16 == 0) {
                    std::this_thread::sleep_for(1ms);
                }
            }
        });
    }
    for (auto& t : cancellers) {
        t.join();
    }
    std::atomic<bool> marker{false};
    e.after(100ms, [&] { marker = true; });
    ASSERT_TRUE(eventually([&] { return marker.load(); }));
    // The marker ran after every deadline above; a timer that was due runs on a worker, so wait
    // for the pending count to settle rather than assume all ran before the marker.
    ASSERT_TRUE(eventually([&] {
        for (int i = 0; i < count; ++i) {
            if (!prevented[static_cast<std::size_t>(i)] && runs[static_cast<std::size_t>(i)].load() == 0) {
                return false;
            }
        }
        return true;
    }));
    int ran = 0;
    for (int i = 0; i < count; ++i) {
        const int n = runs[static_cast<std::size_t>(i)].load();
        ASSERT_LE(n, 1) << i;
        ASSERT_EQ(n == 0, prevented[static_cast<std::size_t>(i)].load()) << "timer " << i;
        ran += n;
    }
    std::cout << ran << " of " << count << " ran before their cancel\n";
    expect_stopped_clean(e);
}

TEST(Timers, APeriodicTimerRunsUntilCancelledInsideItsOwnCallback) {
    engine e;
    std::atomic<int> runs{0};
    timer t;
    std::mutex mutex;
    {
        std::lock_guard lock(mutex);  // `t` is assigned before the first run reads it
        t = e.every(2ms, [&] {
            if (++runs == 5) {
                std::lock_guard inner(mutex);
                EXPECT_FALSE(t.cancel());  // running: not prevented, but not run again
            }
        });
    }
    ASSERT_TRUE(eventually([&] { return runs.load() >= 5; }));
    std::atomic<bool> marker{false};
    e.after(50ms, [&] { marker = true; });
    ASSERT_TRUE(eventually([&] { return marker.load(); }));
    EXPECT_EQ(runs.load(), 5);
}

TEST(Timers, BadArgumentsAreRefusedWithAClearError) {
    engine e;
    EXPECT_THROW(e.every(0ms, [] {}), std::invalid_argument);
    EXPECT_THROW(e.every(-1ms, [] {}), std::invalid_argument);
    EXPECT_THROW(e.after(1ms, nullptr), std::invalid_argument);
    EXPECT_THROW((void)e.post(nullptr), std::invalid_argument);
    // A negative delay is "now".
    std::atomic<bool> ran{false};
    e.after(-5s, [&] { ran = true; });
    EXPECT_TRUE(eventually([&] { return ran.load(); }));
}

TEST(Timers, AThrowingCallbackIsContainedAndTheEngineGoesOn) {
    engine e(one_worker());
    std::atomic<int> after{0};
    e.after(1ms, [] { throw std::runtime_error("application bug"); });
    e.after(5ms, [&] { ++after; });
    ASSERT_TRUE(eventually([&] { return after.load() == 1; }));
}

TEST(Timers, StopDropsPendingTimersAndNoneRunsAfterItReturns) {
    auto captured = std::make_shared<int>(0);
    std::atomic<bool> stopped{false};
    std::atomic<int> ran_after_stop{0};
    std::atomic<int> periodic_runs{0};
    timer survivor;
    {
        engine e;
        e.after(1h, [captured] {});
        survivor = e.every(1ms, [&] {
            ++periodic_runs;
            if (stopped) {
                ++ran_after_stop;
            }
        });
        ASSERT_TRUE(eventually([&] { return periodic_runs.load() >= 2; }));
        EXPECT_EQ(captured.use_count(), 2);
        e.stop();
        stopped = true;
        EXPECT_EQ(captured.use_count(), 1);  // dropped: the function is destroyed, never run
        EXPECT_FALSE(e.after(1ms, [] {}));   // refused once stopping
        EXPECT_EQ(e.post([] {}), make_error_code(error::engine_stopped));
        std::this_thread::sleep_for(20ms);   // not a measurement: room for a wrongly surviving timer
        EXPECT_EQ(ran_after_stop.load(), 0);
    }
    EXPECT_FALSE(survivor.cancel());  // harmless after the engine is gone
}

TEST(Timers, AConnectionsTimersDieWithItAndRunSerialisedWithItsCallbacks) {
    engine e;
    struct shared_state {
        std::atomic<int> in_callback{0};
        std::atomic<int> overlaps{0};
        std::atomic<int> ticks{0};
        std::atomic<int> after_close{0};
        std::atomic<bool> closed{false};
        std::atomic<int> long_timer_ran{0};
        timer late;
    };
    auto state = std::make_shared<shared_state>();
    struct enter_guard {
        shared_state& s;
        explicit enter_guard(shared_state& st) : s(st) {
            if (s.in_callback.fetch_add(1) != 0) {
                ++s.overlaps;
            }
            if (s.closed) {
                ++s.after_close;
            }
        }
        ~enter_guard() { s.in_callback.fetch_sub(1); }
    };
    class ticking_echo : public connection_handler {
    public:
        explicit ticking_echo(std::shared_ptr<shared_state> s) : s_(std::move(s)) {}
        void on_open(connection& c) override {
            enter_guard g(*s_);
            c.every(1ms, [s = s_](connection&) {
                enter_guard inner(*s);
                ++s->ticks;
                std::this_thread::yield();
            });
            s_->late = c.after(1h, [s = s_](connection&) { ++s->long_timer_ran; });
        }
        void on_data(connection& c, gsl::span<const std::byte> data) override {
            enter_guard g(*s_);
            std::this_thread::yield();
            (void)c.send(data);
        }
        void on_close(connection& c, std::error_code) override {
            {
                enter_guard g(*s_);
                s_->closed = true;
            }
            EXPECT_FALSE(c.after(1ms, [](connection&) {}));  // closed: refused
            EXPECT_EQ(c.post([](connection&) {}), make_error_code(error::not_connected));
        }

    private:
        std::shared_ptr<shared_state> s_;
    };
    listener l = e.listen(endpoint::loopback_v4(0), [state] { return std::make_unique<ticking_echo>(state); });
    {
        blocking_client client(l.local_endpoint());
        for (std::uint32_t round = 0; round < 40; ++round) {
            ASSERT_TRUE(client.send_all(random_bytes(100, round)));
            ASSERT_EQ(client.receive_exactly(100), random_bytes(100, round));
        }
        ASSERT_TRUE(eventually([&] { return state->ticks.load() >= 3; }));
    }  // the client closes: the connection closes, its timers die
    ASSERT_TRUE(eventually([&] { return state->closed.load(); }));
    const int ticks_at_close = state->ticks.load();
    std::atomic<bool> marker{false};
    e.after(30ms, [&] { marker = true; });
    ASSERT_TRUE(eventually([&] { return marker.load(); }));
    EXPECT_EQ(state->ticks.load(), ticks_at_close);
    EXPECT_EQ(state->after_close.load(), 0);
    EXPECT_EQ(state->overlaps.load(), 0);
    EXPECT_EQ(state->long_timer_ran.load(), 0);
    EXPECT_FALSE(state->late.cancel());  // already cancelled by the close
    expect_stopped_clean(e);  // a 1 h timer held nothing alive
}

}  // namespace
}  // namespace wire::test
