// The seam refuses a system call made while the calling thread holds an engine lock (issue 23):
// the CMake test build links the engine with the check on (engine_checked), and so does any Debug
// build, so any such call anywhere in the suite aborts its test's process with the caller's
// return addresses.
#include "test_support.h"

#include "core/slim_mutex.h"
#include "win/system_calls.h"

namespace wire::test {
namespace {

using detail::slim_mutex;
namespace lock_checks = detail::lock_checks;

#if WIRE_LOCK_CHECKS

std::atomic<unsigned> reported{0};
std::atomic<int> reports{0};

void record(unsigned locks_held) noexcept {
    reported = locks_held;
    ++reports;
}

class LockCheck : public ::testing::Test {
protected:
    void SetUp() override {
        reported = 0;
        reports = 0;
        lock_checks::set_violation_handler(&record);
    }
    void TearDown() override { lock_checks::set_violation_handler(nullptr); }
};

TEST_F(LockCheck, ASystemCallUnderAnEngineLockIsReportedWithHowManyAreHeld) {
    slim_mutex first;
    slim_mutex second;
    {
        std::lock_guard one(first);
        (void)detail::sys();
        EXPECT_EQ(reports.load(), 1);
        EXPECT_EQ(reported.load(), 1U);
        std::lock_guard two(second);
        (void)detail::sys();
        EXPECT_EQ(reports.load(), 2);
        EXPECT_EQ(reported.load(), 2U);
    }
    EXPECT_EQ(lock_checks::held_by_this_thread(), 0U);
    (void)detail::sys();
    EXPECT_EQ(reports.load(), 2) << "no lock held: nothing to report";
}

TEST_F(LockCheck, ALockReleasedBeforeTheCallOrHeldByAnotherThreadIsNoViolation) {
    slim_mutex m;
    {
        std::unique_lock lock(m);
        EXPECT_TRUE(lock.owns_lock());
        lock.unlock();
        (void)detail::sys();
        ASSERT_TRUE(m.try_lock());
        EXPECT_EQ(lock_checks::held_by_this_thread(), 1U);
        m.unlock();
    }
    std::atomic<bool> held{false};
    std::atomic<bool> done{false};
    std::thread holder([&] {
        std::lock_guard lock(m);
        held = true;
        while (!done) {
            std::this_thread::yield();
        }
    });
    ASSERT_TRUE(eventually([&] { return held.load(); }));
    (void)detail::sys();
    done = true;
    holder.join();
    EXPECT_EQ(reports.load(), 0);
}

// The engine itself, driven through a connection's whole life, never makes a system call under
// one of its locks (any would be reported here instead of aborting).
TEST_F(LockCheck, AnEchoSessionMakesNoSystemCallUnderAnEngineLock) {
    {
        engine e;
        listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
        blocking_client client(l.local_endpoint());
        for (std::uint32_t i = 0; i < 20; ++i) {
            const auto message = random_bytes(1000, i);
            ASSERT_TRUE(client.send_all(message));
            ASSERT_EQ(client.receive_exactly(message.size()), message);
        }
        client.close();
        expect_stopped_clean(e);
    }
    EXPECT_EQ(reports.load(), 0);
}

#else

// msbuild's Release tests link the Release engine, which keeps no count (Debug does, and so does
// every CMake test build through engine_checked).
TEST(LockCheck, ASystemCallUnderAnEngineLockIsReportedWithHowManyAreHeld) {
    GTEST_SKIP() << "this engine was built without the lock checks (a Release build outside CMake's engine_checked)";
}

#endif

}  // namespace
}  // namespace wire::test
