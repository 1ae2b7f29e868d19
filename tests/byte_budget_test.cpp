#include "core/byte_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace wire::detail {
namespace {

TEST(ByteBudget, RefusesWhatWouldPassTheLimit) {
    byte_budget budget(1000);
    EXPECT_TRUE(budget.try_reserve(600));
    EXPECT_TRUE(budget.try_reserve(400));  // exactly at the limit
    EXPECT_FALSE(budget.try_reserve(1));
    EXPECT_EQ(budget.used(), 1000U);
    EXPECT_FALSE(budget.release(1));  // 999 is above the low-water mark (750), and nobody waits
    EXPECT_TRUE(budget.try_reserve(1));
    EXPECT_FALSE(budget.try_reserve(static_cast<std::size_t>(-1)));  // no wrap-around
}

TEST(ByteBudget, AnyOneBufferFitsWhenNothingIsHeld) {
    byte_budget budget(100);
    EXPECT_TRUE(budget.try_reserve(5000));
    EXPECT_FALSE(budget.try_reserve(1));
    EXPECT_FALSE(budget.release(5000));
    EXPECT_EQ(budget.used(), 0U);
}

TEST(ByteBudget, ForcedReservationsMayPassTheLimitAndBlockTheRest) {
    byte_budget budget(100);
    ASSERT_TRUE(budget.try_reserve(90));
    budget.force_reserve(50);
    EXPECT_EQ(budget.used(), 140U);
    EXPECT_FALSE(budget.try_reserve(1));
    EXPECT_FALSE(budget.release(50));  // 90: above the low-water mark (75)
    EXPECT_TRUE(budget.try_reserve(10));
}

TEST(ByteBudget, ZeroLimitIsUnbounded) {
    byte_budget budget(0);
    EXPECT_TRUE(budget.try_reserve(1U << 30));
    EXPECT_TRUE(budget.try_reserve(1U << 30));
    EXPECT_EQ(budget.used(), std::size_t{2} << 30);
}

TEST(ByteBudget, DefaultLowWaterIsThreeQuarters) {
    EXPECT_EQ(byte_budget(1000).low_water(), 750U);
    EXPECT_EQ(byte_budget(1000, 100).low_water(), 100U);
    EXPECT_EQ(byte_budget(1000, 5000).low_water(), 750U);  // above the limit: the default
}

TEST(ByteBudget, WakesWaitersOnceWhenTheTotalFallsToLowWater) {
    byte_budget budget(1000, 500);
    ASSERT_TRUE(budget.try_reserve(1000));
    ASSERT_FALSE(budget.try_reserve(10));
    budget.mark_waiting();
    EXPECT_FALSE(budget.below_low_water());
    EXPECT_FALSE(budget.release(400));  // 600: still above
    EXPECT_TRUE(budget.release(100));   // 500: at the mark, a waiter exists
    EXPECT_TRUE(budget.below_low_water());
    EXPECT_FALSE(budget.release(100));  // woken already: nobody waits any more
    budget.mark_waiting();
    EXPECT_TRUE(budget.release(100));   // a new waiter is woken by the next release below the mark
}

TEST(ByteBudget, ConcurrentReservationsNeverPassTheLimit) {
    constexpr std::size_t limit = 64 * 1024;
    byte_budget budget(limit);
    ASSERT_TRUE(budget.try_reserve(1));  // something is held: the one-buffer exception is off
    std::vector<std::thread> threads;
    std::atomic<bool> exceeded{false};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20'000; ++i) {
                if (budget.try_reserve(1000)) {
                    if (budget.used() > limit) {
                        exceeded = true;
                    }
                    (void)budget.release(1000);
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_FALSE(exceeded.load());
    EXPECT_EQ(budget.used(), 1U);
}

}  // namespace
}  // namespace wire::detail
