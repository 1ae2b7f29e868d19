#pragma once
// The engine's one lock type, for every piece of its data. On Windows it is a slim reader/writer
// lock taken exclusively: MSVC's std::mutex is built on the same primitive, while MinGW's goes
// through winpthreads and Win32 events when contended, so using SRWLOCK directly makes the Wine
// build measure the lock Visual Studio users get. The platform-neutral parts, built natively for
// their own tests, get std::mutex. Satisfies Lockable, so std::lock_guard, std::unique_lock and
// std::condition_variable_any work.
//
// No engine lock is held across a system call: a thread that waits in the kernel while holding
// one makes every worker that needs it wait too. Debug builds and the test build
// (WIRE_LOCK_CHECKS) enforce it: each thread counts the engine locks it holds, and the system-call
// seam (win/system_calls.h) reports a call entered with any held (lock_checks.h).
#include "core/lock_checks.h"

#if defined(_WIN32)
#include <wire/win32.h>
#else
#include <mutex>
#endif

namespace wire::detail {

class slim_mutex {
public:
    slim_mutex() noexcept = default;
    slim_mutex(const slim_mutex&) = delete;
    slim_mutex& operator=(const slim_mutex&) = delete;

#if defined(_WIN32)
    void lock() noexcept {
        ::AcquireSRWLockExclusive(&lock_);
        lock_checks::acquired();
    }
    [[nodiscard]] bool try_lock() noexcept {
        if (::TryAcquireSRWLockExclusive(&lock_) == FALSE) {
            return false;
        }
        lock_checks::acquired();
        return true;
    }
    void unlock() noexcept {
        lock_checks::released();
        ::ReleaseSRWLockExclusive(&lock_);
    }

private:
    SRWLOCK lock_ = SRWLOCK_INIT;
#else
    void lock() {
        lock_.lock();
        lock_checks::acquired();
    }
    [[nodiscard]] bool try_lock() {
        if (!lock_.try_lock()) {
            return false;
        }
        lock_checks::acquired();
        return true;
    }
    void unlock() {
        lock_checks::released();
        lock_.unlock();
    }

private:
    std::mutex lock_;
#endif
};

}  // namespace wire::detail
