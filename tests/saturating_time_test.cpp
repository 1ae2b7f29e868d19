// saturating_add: deadlines clamp at the ends of the clock's range instead of overflowing.
#include "core/saturating_time.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <ratio>
#include <vector>

namespace wire::detail {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ns_point = std::chrono::time_point<clock_type, std::chrono::nanoseconds>;

TEST(SaturatingTime, OrdinaryDelaysAddExactly) {
    const ns_point t(1'000'000ns);
    EXPECT_EQ(saturating_add(t, 5ms), ns_point(6'000'000ns));
    EXPECT_EQ(saturating_add(t, -1ms), ns_point(0ns));
    EXPECT_EQ(saturating_add(t, 0ms), t);
    EXPECT_EQ(saturating_add(t, 7ns), ns_point(1'000'007ns));
    EXPECT_EQ(saturating_add(t, 2h), ns_point(1'000'000ns + std::chrono::nanoseconds(2h)));
}

TEST(SaturatingTime, HugeDelaysClampToTheLatestTimePoint) {
    const auto now = clock_type::now();
    EXPECT_EQ(saturating_add(now, std::chrono::milliseconds::max()), clock_type::time_point::max());
    EXPECT_EQ(saturating_add(now, std::chrono::seconds::max()), clock_type::time_point::max());
    EXPECT_EQ(saturating_add(now, std::chrono::hours::max()), clock_type::time_point::max());
    EXPECT_EQ(saturating_add(now, clock_type::duration::max()), clock_type::time_point::max());
    // The largest delay that still fits is added exactly; one tick more clamps.
    const ns_point zero{};
    const auto room = std::chrono::nanoseconds::max() - 5ns;
    EXPECT_EQ(saturating_add(ns_point(5ns), room), ns_point::max());
    EXPECT_EQ(saturating_add(ns_point(6ns), room), ns_point::max());
    EXPECT_EQ(saturating_add(zero, room), ns_point(room));
    // A delay in milliseconds whose conversion to nanoseconds alone would overflow.
    const auto just_too_many = std::chrono::milliseconds(std::chrono::nanoseconds::max().count() / 1'000'000 + 1);
    EXPECT_EQ(saturating_add(zero, just_too_many), ns_point::max());
    const auto just_enough = std::chrono::milliseconds(std::chrono::nanoseconds::max().count() / 1'000'000);
    EXPECT_EQ(saturating_add(zero, just_enough), ns_point(std::chrono::nanoseconds(just_enough)));
}

TEST(SaturatingTime, HugeNegativeDelaysClampToTheEarliestTimePoint) {
    const auto now = clock_type::now();
    EXPECT_EQ(saturating_add(now, std::chrono::milliseconds::min()), clock_type::time_point::min());
    EXPECT_EQ(saturating_add(ns_point(-5ns), std::chrono::nanoseconds::min() + 4ns), ns_point::min());
    EXPECT_EQ(saturating_add(ns_point::max(), std::chrono::nanoseconds::min()), ns_point(-1ns));
}

TEST(SaturatingTime, AtTheEndsOfTheRange) {
    EXPECT_EQ(saturating_add(ns_point::max(), 1ns), ns_point::max());
    EXPECT_EQ(saturating_add(ns_point::max(), 0ns), ns_point::max());
    EXPECT_EQ(saturating_add(ns_point::min(), -1ns), ns_point::min());
    EXPECT_EQ(saturating_add(ns_point::min(), 1ns), ns_point(std::chrono::nanoseconds::min() + 1ns));
}

TEST(SaturatingTime, WorksInConstantExpressions) {
    constexpr ns_point top = saturating_add(ns_point(1ns), std::chrono::milliseconds::max());
    static_assert(top == ns_point::max());
    constexpr std::chrono::time_point<clock_type, std::chrono::milliseconds> coarse(1ms);
    static_assert(saturating_add(coarse, std::chrono::seconds(1)).time_since_epoch() == 1001ms);
    // hours' representation is only required to hold 23 bits (MSVC's is an int, libstdc++'s a long):
    // spell out a 64-bit one, so that its maximum overflows milliseconds on every library.
    using long_hours = std::chrono::duration<std::int64_t, std::ratio<3600>>;
    static_assert(saturating_add(coarse, long_hours::max()).time_since_epoch() == std::chrono::milliseconds::max());
    EXPECT_EQ(top, ns_point::max());
}

// Against exact 64-bit arithmetic, on a clock whose ticks are 32-bit: every sum, in range or far
// beyond it, in either direction, with a unit whose conversion alone may overflow.
TEST(SaturatingTime, MatchesExactArithmeticOnANarrowClock) {
    using tick = std::chrono::duration<std::int32_t, std::micro>;
    using delay = std::chrono::duration<std::int32_t, std::milli>;  // 1,000 ticks each
    using point = std::chrono::time_point<clock_type, tick>;
    constexpr std::int64_t top = std::numeric_limits<std::int32_t>::max();
    constexpr std::int64_t bottom = std::numeric_limits<std::int32_t>::min();
    const std::int32_t edges[] = {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::min() + 1,
                                  -2'147'483, -2'147'484, -1'000, -1, 0, 1, 999, 1'000, 2'147'483, 2'147'484,
                                  std::numeric_limits<std::int32_t>::max() - 1, std::numeric_limits<std::int32_t>::max()};
    std::mt19937 generator(20'261'130);
    std::vector<std::int32_t> values(std::begin(edges), std::end(edges));
    for (int i = 0; i < 200; ++i) {
        values.push_back(static_cast<std::int32_t>(generator()));
        values.push_back(static_cast<std::int32_t>(generator() % 4'000'000) - 2'000'000);
    }
    for (const std::int32_t base : values) {
        for (const std::int32_t units : values) {
            const std::int64_t exact = std::int64_t{base} + std::int64_t{units} * 1'000;
            const std::int64_t expected = std::clamp(exact, bottom, top);
            const point got = saturating_add(point(tick(base)), delay(units));
            ASSERT_EQ(got.time_since_epoch().count(), expected) << base << " + " << units << " ms";
        }
    }
}

}  // namespace
}  // namespace wire::detail
