#pragma once
// Round-trip latencies of a whole run in a fixed log-linear histogram: constant memory however
// long the run, percentiles within 1 % (64 linear steps per power of two), and recording is one
// relaxed atomic increment, so every connection records into the same histogram.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace wire::client {

class latency_histogram {
public:
    void record(std::chrono::nanoseconds latency) noexcept;

    [[nodiscard]] std::uint64_t count() const noexcept { return total_.load(std::memory_order_relaxed); }
    // The q-quantile (0 < q <= 1) in microseconds, e.g. q = 0.999 for p99.9; 0 when empty.
    [[nodiscard]] double percentile_us(double q) const noexcept;
    [[nodiscard]] double max_us() const noexcept;

private:
    static constexpr unsigned linear_bits = 7;                      // values below 128 ns are exact
    static constexpr std::uint64_t linear_limit = 1U << linear_bits;
    static constexpr std::uint64_t half = linear_limit / 2;         // steps per power of two above it
    static constexpr unsigned max_bits = 40;                        // ~18 minutes: longer is clamped
    static constexpr std::size_t bucket_count = linear_limit + (max_bits - linear_bits) * half;

    [[nodiscard]] static std::size_t bucket_of(std::uint64_t ns) noexcept;
    [[nodiscard]] static std::uint64_t middle_of(std::size_t bucket) noexcept;

    std::array<std::atomic<std::uint64_t>, bucket_count> counts_{};
    std::atomic<std::uint64_t> total_{0};
    std::atomic<std::uint64_t> max_ns_{0};
};

}  // namespace wire::client
