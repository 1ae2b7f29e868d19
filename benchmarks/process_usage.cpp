#include "process_usage.h"

#include "win32.h"

namespace wire::bench {

namespace {

// Windows' PrivateUsage is the commit charge; Wine derives it from Linux's swap figure, which
// is near zero. Walking the address space gives the committed private bytes on both, so the
// benchmark reports that figure alongside (it counts buffers a working set misses because their
// pages were never touched).
std::uint64_t committed_private_bytes() noexcept {
    SYSTEM_INFO system{};
    ::GetSystemInfo(&system);
    auto* address = static_cast<const char*>(system.lpMinimumApplicationAddress);
    const auto* const end = static_cast<const char*>(system.lpMaximumApplicationAddress);
    std::uint64_t total = 0;
    MEMORY_BASIC_INFORMATION region{};
    while (address < end && ::VirtualQuery(address, &region, sizeof(region)) == sizeof(region)) {
        if (region.State == MEM_COMMIT && region.Type == MEM_PRIVATE) {
            total += region.RegionSize;
        }
        address = static_cast<const char*>(region.BaseAddress) + region.RegionSize;
    }
    return total;
}

}  // namespace

memory_usage current_memory_usage() noexcept {
    memory_usage usage;
    PROCESS_MEMORY_COUNTERS_EX counters{};
    counters.cb = sizeof(counters);
    if (::GetProcessMemoryInfo(::GetCurrentProcess(), reinterpret_cast<PROCESS_MEMORY_COUNTERS*>(&counters),
                               sizeof(counters)) != FALSE) {
        usage.working_set = counters.WorkingSetSize;
        usage.private_usage = counters.PrivateUsage;
    }
    usage.committed_private = committed_private_bytes();
    return usage;
}

std::uint64_t cpu_time_us() noexcept {
    FILETIME created{};
    FILETIME exited{};
    FILETIME kernel{};
    FILETIME user{};
    if (::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user) == FALSE) {
        return 0;
    }
    const auto ticks = [](const FILETIME& t) {  // 100 ns units
        return (static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime;
    };
    return (ticks(kernel) + ticks(user)) / 10;
}

}  // namespace wire::bench
