#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace wire::client {

std::size_t latency_histogram::bucket_of(std::uint64_t ns) noexcept {
    ns = std::min<std::uint64_t>(ns, (std::uint64_t{1} << max_bits) - 1);
    if (ns < linear_limit) {
        return static_cast<std::size_t>(ns);
    }
    // Keep the top linear_bits bits: the value lies in [half, linear_limit) << shift.
    const unsigned shift = static_cast<unsigned>(std::bit_width(ns)) - linear_bits;
    return static_cast<std::size_t>(linear_limit + (shift - 1) * half + ((ns >> shift) - half));
}

std::uint64_t latency_histogram::middle_of(std::size_t bucket) noexcept {
    if (bucket < linear_limit) {
        return bucket;
    }
    const std::size_t k = bucket - linear_limit;
    const unsigned shift = static_cast<unsigned>(k / half) + 1;
    const std::uint64_t lower = (half + k % half) << shift;
    return lower + ((std::uint64_t{1} << shift) - 1) / 2;
}

void latency_histogram::record(std::chrono::nanoseconds latency) noexcept {
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
    counts_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t seen = max_ns_.load(std::memory_order_relaxed);
    while (ns > seen && !max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
}

double latency_histogram::percentile_us(double q) const noexcept {
    const std::uint64_t total = count();
    if (total == 0) {
        return 0.0;
    }
    // The rank of the sample at quantile q, counted from 1.
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < bucket_count; ++b) {
        seen += counts_[b].load(std::memory_order_relaxed);
        if (seen >= rank) {
            // A bucket's middle can exceed the largest sample in it; never report above the max.
            return std::min(static_cast<double>(middle_of(b)) / 1000.0, max_us());
        }
    }
    return max_us();
}

double latency_histogram::max_us() const noexcept {
    return static_cast<double>(max_ns_.load(std::memory_order_relaxed)) / 1000.0;
}

}  // namespace wire::client
