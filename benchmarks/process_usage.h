#pragma once
// What the current process holds in memory (for the idle-connection benchmark) and the CPU time it
// has used.
#include <cstdint>

namespace wire::bench {

struct memory_usage {
    std::uint64_t working_set = 0;        // PROCESS_MEMORY_COUNTERS_EX::WorkingSetSize (resident pages)
    std::uint64_t private_usage = 0;      // PROCESS_MEMORY_COUNTERS_EX::PrivateUsage (commit charge)
    std::uint64_t committed_private = 0;  // sum of MEM_COMMIT + MEM_PRIVATE regions (VirtualQuery walk)
};

// Never fails: a counter the platform does not provide reads 0.
[[nodiscard]] memory_usage current_memory_usage() noexcept;

// CPU time the current process has used so far (user + kernel, GetProcessTimes), in microseconds.
// Unlike wall time it hardly moves when other programs take the CPU away, which on a shared
// machine makes it the steadier measure of what a server costs.
[[nodiscard]] std::uint64_t cpu_time_us() noexcept;

}  // namespace wire::bench
