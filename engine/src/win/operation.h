#pragma once
// An overlapped operation: the OVERLAPPED the kernel writes to, and the function that finishes it.
//
// Ownership rule: an operation belongs to the object that issued it (engine_core.h lists who owns
// which) and is never copied, moved or freed while the kernel may still write to it. The issuing
// object counts it as a unit from just before the system call until its completion has been
// handled (dequeued from the port, or handled inline after a synchronous success), and the
// object is kept alive by the engine's registry until no unit is left (win/teardown.h). The OVERLAPPED is the first base, so
// the pointer the port returns is converted back with a static_cast, never looked up.
#include "win/winsock.h"

#include <cstdint>

namespace wire::detail {

struct operation : OVERLAPPED {
    // A plain function pointer rather than a virtual call: one indirect call per completion, and
    // the OVERLAPPED stays at offset zero.
    using complete_fn = void (*)(operation& op, DWORD error, DWORD bytes) noexcept;

    explicit operation(complete_fn on_complete) noexcept : OVERLAPPED{}, complete(on_complete) {}
    operation(const operation&) = delete;
    operation& operator=(const operation&) = delete;

    // Clears the kernel's fields before the operation is issued again.
    void reset_overlapped() noexcept { static_cast<OVERLAPPED&>(*this) = OVERLAPPED{}; }

    complete_fn complete;
    // The error a posted (not kernel-completed) packet carries, for immediate failures.
    DWORD posted_error = 0;
};

// An operation that knows the object it belongs to: the completion function recovers the owner
// from the operation, never through a lookup.
template <typename Owner>
struct owned_operation : operation {
    owned_operation(Owner& o, complete_fn on_complete) noexcept : operation(on_complete), owner(&o) {}
    Owner* owner;
};

// Completion keys: sockets are associated with io; the engine posts the others itself.
enum class completion_key : ULONG_PTR {
    io = 0,      // kernel completion: status in OVERLAPPED::Internal
    posted = 1,  // engine-posted operation: status in operation::posted_error
    quit = 2,    // a worker leaves its loop
    wake = 3,    // an earlier deadline was scheduled: a worker looks at the timers (deadline_watch)
};

}  // namespace wire::detail
