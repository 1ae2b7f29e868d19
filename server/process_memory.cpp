#include "process_memory.h"

#include <wire/win32.h>

#include <psapi.h>  // after windows.h, which it needs

namespace wire::server {

std::uint64_t resident_bytes() noexcept {
    PROCESS_MEMORY_COUNTERS counters{};
    counters.cb = sizeof(counters);
    if (::GetProcessMemoryInfo(::GetCurrentProcess(), &counters, sizeof(counters)) == FALSE) {
        return 0;
    }
    return counters.WorkingSetSize;
}

}  // namespace wire::server
