#pragma once
// The per-thread count of engine locks held (core/slim_mutex.h), kept in debug builds and the
// test build (WIRE_LOCK_CHECKS=1), so that the system-call seam can refuse a call made under one.
// Release builds keep nothing and pay nothing.
#if !defined(WIRE_LOCK_CHECKS)
#if defined(NDEBUG)
#define WIRE_LOCK_CHECKS 0
#else
#define WIRE_LOCK_CHECKS 1
#endif
#endif

namespace wire::detail::lock_checks {

#if WIRE_LOCK_CHECKS
inline thread_local unsigned held = 0;
inline void acquired() noexcept { ++held; }
inline void released() noexcept { --held; }
[[nodiscard]] inline unsigned held_by_this_thread() noexcept { return held; }

// What a violation does: the default writes what it found to stderr (and the debugger) and
// aborts; a test installs its own to see the check fire. nullptr restores the default.
using violation_handler = void (*)(unsigned locks_held) noexcept;
void set_violation_handler(violation_handler handler) noexcept;
// Called by the seam on entry: reports a violation when this thread holds an engine lock.
void check_no_lock_held() noexcept;
#else
inline void acquired() noexcept {}
inline void released() noexcept {}
[[nodiscard]] inline unsigned held_by_this_thread() noexcept { return 0; }
inline void check_no_lock_held() noexcept {}
#endif

}  // namespace wire::detail::lock_checks
