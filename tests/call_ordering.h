#pragma once
// Explores, at the system-call seam, the two orders in which an overlapped call's return and its
// completion can reach the engine (issue 22). On Windows a completion may be dequeued and handled
// on another worker before the call that started it has returned to its caller: a synchronous
// success without skip-on-success queues its packet inside the call, and a pending call can
// finish at any moment. Wine rarely shows that order, so the engine's rule ("after the call
// returns, touch nothing the completion's handler may change") would otherwise be tested by luck.
//
// For a seeded share of the overlapped calls that will produce a packet, one of:
// - hold the return: the call has been made, but the seam returns to the engine only once its
//   completion has been dequeued and handled on another worker (that worker came back to the
//   seam: its next system call, or its next dequeue); the handler then pauses a moment so the
//   issuer's code after the call runs against it;
// - hold the completion: the worker that dequeued the packet waits until the call has returned.
// Each wait is bounded (a handler may need something the held issuer holds): a wait that ends on
// its bound is counted, never an error. While exploring, a dequeue asks for one entry (Windows may
// return any number), so a worker's next call into the seam means it is done with that entry.
//
// Decisions are a hash of (seed, kind of call, call number): the same seed makes the same choice
// for the same call number. Which connection a call number belongs to still depends on the
// threads, so a replay explores the same mix, not necessarily the same interleaving.
#include "win/winsock.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace wire::test {

class call_ordering {
public:
    struct counts {
        std::uint64_t returns_held = 0;      // issuers that waited for their completion's handler
        std::uint64_t handled_first = 0;     // ... and saw it handled before they returned
        std::uint64_t completions_held = 0;  // dequeued completions that waited for their call
        std::uint64_t bounded_waits = 0;     // waits that ended on the bound instead
    };

    // From now on, a `share` of the calls holds the return and as many hold the completion.
    void start(std::uint32_t seed, double share, std::chrono::milliseconds bound);
    [[nodiscard]] bool active() const noexcept { return active_.load(std::memory_order_acquire); }

    // Around the real overlapped call `number` of kind `kind` on `overlapped`: before it, and
    // after it with whether a packet is on its way (pending, or a success without skip-on-success).
    [[nodiscard]] std::uint64_t before_call(unsigned kind, std::uint64_t number, const OVERLAPPED* overlapped);
    void after_call(const OVERLAPPED* overlapped, std::uint64_t ticket, bool packet_expected);
    // After CancelIoEx(…, overlapped) returned: may hold until that operation's completion was handled.
    void after_cancel(unsigned kind, std::uint64_t number, const OVERLAPPED* overlapped);
    // Any call into the seam: the calling thread has reached its next system call (or dequeue)
    // since it dequeued its last completion, so that completion counts as handled.
    void progress();
    // Around a dequeue: how many entries to ask for, and what came back.
    [[nodiscard]] ULONG entries_to_ask(ULONG count) const noexcept { return active() && count > 1 ? 1 : count; }
    void dequeued(const OVERLAPPED_ENTRY* entries, ULONG removed);

    [[nodiscard]] counts totals() const;

private:
    enum class choice { none, hold_return, hold_completion };
    struct flight {
        std::uint64_t ticket = 0;  // tells a re-issue of the same operation from this one
        choice pick = choice::none;
        bool returned = false;
        bool handled = false;
        bool issuer_waiting = false;
    };

    [[nodiscard]] choice decide(unsigned kind, std::uint64_t number) const noexcept;
    // Waits (bounded) until `done` holds for the flight of `overlapped` with `ticket`, or it is gone.
    template <typename Done>
    bool wait_for_flight(std::unique_lock<std::mutex>& lock, const OVERLAPPED* overlapped, std::uint64_t ticket, Done done);

    std::atomic<bool> active_{false};
    std::uint32_t seed_ = 0;
    double share_ = 0;
    std::chrono::milliseconds bound_{50};
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::unordered_map<const OVERLAPPED*, flight> flights_;
    std::uint64_t next_ticket_ = 0;
    counts counts_;
};

}  // namespace wire::test
