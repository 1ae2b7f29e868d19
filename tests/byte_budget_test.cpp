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
    budget.release(1);
    EXPECT_TRUE(budget.try_reserve(1));
    EXPECT_FALSE(budget.try_reserve(static_cast<std::size_t>(-1)));  // no wrap-around
}

TEST(ByteBudget, NothingLargerThanTheLimitIsReservedByTryReserve) {
    byte_budget budget(100);
    EXPECT_FALSE(budget.try_reserve(101));
    EXPECT_EQ(budget.used(), 0U);
}

TEST(ByteBudget, ForcedReservationsMayPassTheLimitAndBlockTheRest) {
    byte_budget budget(100);
    ASSERT_TRUE(budget.try_reserve(90));
    budget.force_reserve(50);
    EXPECT_EQ(budget.used(), 140U);
    EXPECT_FALSE(budget.try_reserve(1));
    budget.release(50);  // 90
    EXPECT_TRUE(budget.try_reserve(10));
    EXPECT_FALSE(budget.try_reserve(1));
}

TEST(ByteBudget, ZeroLimitIsUnbounded) {
    byte_budget budget(0);
    EXPECT_TRUE(budget.try_reserve(1U << 30));
    EXPECT_TRUE(budget.try_reserve(1U << 30));
    EXPECT_EQ(budget.used(), std::size_t{2} << 30);
}

TEST(ByteBudget, ConcurrentReservationsNeverPassTheLimit) {
    constexpr std::size_t limit = 64 * 1024;
    byte_budget budget(limit);
    std::vector<std::thread> threads;
    std::atomic<bool> exceeded{false};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20'000; ++i) {
                if (budget.try_reserve(1000)) {
                    if (budget.used() > limit) {
                        exceeded = true;
                    }
                    budget.release(1000);
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_FALSE(exceeded.load());
    EXPECT_EQ(budget.used(), 0U);
}

}  // namespace
}  // namespace wire::detail
