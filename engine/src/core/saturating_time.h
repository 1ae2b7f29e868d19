#pragma once
// Deadline arithmetic that clamps instead of overflowing. `now() + delay` with a huge delay (an
// option set to milliseconds::max() to mean "practically never") is signed overflow: undefined
// behaviour, in practice a deadline in the past that fires at once. Platform-neutral.
#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>

namespace wire::detail {

namespace saturating_detail {

using wide = std::intmax_t;

// a + b clamped to [lo, hi] (lo <= 0 <= hi), without overflowing wide.
constexpr wide add_clamped(wide a, wide b, wide lo, wide hi) noexcept {
    if (b > 0 && a > hi - b) {
        return hi;
    }
    if (b < 0 && a < lo - b) {
        return lo;
    }
    const wide sum = a + b;
    return sum > hi ? hi : (sum < lo ? lo : sum);
}

// base + units * factor clamped to [lo, hi], exactly wherever the true sum is in range.
// base = q * factor + r (|r| < factor), so the sum is (q + units) * factor + r; each step is kept
// in range before it is taken.
constexpr wide add_scaled_clamped(wide base, wide units, wide factor, wide lo, wide hi) noexcept {
    constexpr wide wide_max = std::numeric_limits<wide>::max();
    constexpr wide wide_min = std::numeric_limits<wide>::min();
    const wide q = base / factor;
    const wide r = base % factor;
    if ((units > 0 && q > wide_max - units) || (units < 0 && q < wide_min - units)) {
        return units > 0 ? hi : lo;  // |q + units| > 2^63 ticks of factor: beyond any range
    }
    const wide s = q + units;
    // Compared as s -/+ 1, which cannot overflow for s of that sign (hi / factor + 1 can).
    if (s > 0) {
        if (s - 1 > hi / factor) {
            return hi;
        }
        if (s - 1 == hi / factor) {  // s * factor alone may overflow: take one factor from it
            return add_clamped((s - 1) * factor, r + factor, lo, hi);
        }
    } else if (s < 0) {
        if (s + 1 < lo / factor) {
            return lo;
        }
        if (s + 1 == lo / factor) {
            return add_clamped((s + 1) * factor, r - factor, lo, hi);
        }
    }
    return add_clamped(s * factor, r, lo, hi);
}

}  // namespace saturating_detail

// `when + delay`, clamped to the range of the time_point's duration. `delay` may be in any unit
// that is a whole multiple of the clock's tick (milliseconds for steady_clock's nanoseconds):
// converting it is part of the clamped sum, since milliseconds::max() does not fit in nanoseconds.
template <typename Clock, typename Duration, typename Rep, typename Period>
[[nodiscard]] constexpr std::chrono::time_point<Clock, Duration> saturating_add(
    std::chrono::time_point<Clock, Duration> when, std::chrono::duration<Rep, Period> delay) noexcept {
    using rep = typename Duration::rep;
    using saturating_detail::wide;
    static_assert(std::is_integral_v<rep> && std::is_signed_v<rep> && sizeof(rep) <= sizeof(wide),
                  "signed integral clock durations only");
    static_assert(std::is_integral_v<Rep> && std::is_signed_v<Rep> && sizeof(Rep) <= sizeof(wide),
                  "signed integral delays only");
    using ratio = std::ratio_divide<Period, typename Duration::period>;
    static_assert(ratio::den == 1, "the delay's unit must be a whole multiple of the clock's tick");

    const wide sum = saturating_detail::add_scaled_clamped(
        when.time_since_epoch().count(), delay.count(), ratio::num, std::numeric_limits<rep>::min(),
        std::numeric_limits<rep>::max());
    return std::chrono::time_point<Clock, Duration>(Duration(static_cast<rep>(sum)));
}

}  // namespace wire::detail
