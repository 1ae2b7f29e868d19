// The seam's check that no engine lock is held across a system call (core/lock_checks.h).
#include "core/lock_checks.h"

#if WIRE_LOCK_CHECKS

#include "win/winsock.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace wire::detail::lock_checks {

namespace {

// Names the caller by its return addresses (resolve them with the build's symbols, e.g.
// addr2line or a debugger), then stops: a lock held across a system call is a defect to fix,
// not a condition to survive.
void report_and_abort(unsigned locks_held) noexcept {
    char text[512];
    int length = std::snprintf(text, sizeof(text), "wire: a system call was made holding %u engine lock(s); return addresses:",
                               locks_held);
    void* frames[12] = {};
    const USHORT captured = ::CaptureStackBackTrace(1, 12, frames, nullptr);
    for (USHORT i = 0; i < captured && length > 0 && static_cast<std::size_t>(length) < sizeof(text) - 24; ++i) {
        length += std::snprintf(text + length, sizeof(text) - static_cast<std::size_t>(length), " %p", frames[i]);
    }
    std::fprintf(stderr, "%s\n", text);
    std::fflush(stderr);
    ::OutputDebugStringA(text);
    std::abort();
}

std::atomic<violation_handler> installed{nullptr};

}  // namespace

void set_violation_handler(violation_handler handler) noexcept { installed.store(handler); }

void check_no_lock_held() noexcept {
    if (held == 0) {
        return;
    }
    if (const violation_handler handler = installed.load()) {
        handler(held);
        return;
    }
    report_and_abort(held);
}

}  // namespace wire::detail::lock_checks

#endif
