#pragma once
// The engine's lock: a Windows slim reader/writer lock taken exclusively. MSVC's std::mutex is
// built on the same primitive, while MinGW's goes through winpthreads and Win32 events when
// contended; using SRWLOCK directly makes the Wine build measure the lock Visual Studio users get.
// Satisfies Lockable, so std::lock_guard, std::unique_lock and std::condition_variable_any work.
#include "win/winsock.h"

namespace wire::detail {

class slim_mutex {
public:
    slim_mutex() noexcept = default;
    slim_mutex(const slim_mutex&) = delete;
    slim_mutex& operator=(const slim_mutex&) = delete;

    void lock() noexcept { ::AcquireSRWLockExclusive(&lock_); }
    [[nodiscard]] bool try_lock() noexcept { return ::TryAcquireSRWLockExclusive(&lock_) != FALSE; }
    void unlock() noexcept { ::ReleaseSRWLockExclusive(&lock_); }

private:
    SRWLOCK lock_ = SRWLOCK_INIT;
};

}  // namespace wire::detail
