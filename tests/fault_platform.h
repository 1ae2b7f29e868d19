#pragma once
// A test platform over the engine's system-call seam (engine/src/win/system_calls.h). It passes
// every call to the system, except that it can
// - fail chosen calls with real Windows error codes, the way Windows reports an immediate
//   failure (the failure return plus WSASetLastError/SetLastError; no completion is queued): the
//   Nth call of a kind, every call while a condition holds, or a seeded random share of them;
// - complete a chosen overlapped call with an error instead (a packet with that NTSTATUS, as
//   when a reset reaches a pending send);
// - run a hook before a call, or after the real call returned (to hold a call while a test checks
//   what other threads can do);
// - explore the orders of an overlapped call's return and its completion (call_ordering.h);
// - play Windows behaviour that Wine 8 lacks, each named after the Microsoft page it follows.
// It emulates outcomes at the seam; it does not re-implement Winsock. One per process (CTest runs
// each test in a process of its own); create it before the engines and destroy it after them.
#include <gsl/span>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "call_ordering.h"
#include "win/winsock.h"

namespace wire::test {

enum class syscall : unsigned {
    wsa_socket,
    bind,
    setsockopt,
    shutdown,
    wsa_recv,
    wsa_send,
    accept_ex,
    connect_ex,
    disconnect_ex,
    post,       // PostQueuedCompletionStatus
    dequeue,    // GetQueuedCompletionStatusEx
    cancel,     // CancelIoEx
    associate,  // CreateIoCompletionPort on an existing handle
    memory,     // VirtualAlloc (receive buffers): a failure returns nullptr
    wsa_recv_from,  // datagram sockets
    wsa_send_to,
    count_,
};

class fault_platform;

// Where a call_hold holds its call: before the real call is made, or after it returned (the call
// has done its work, and its completion may be dequeued meanwhile, but the engine has not seen
// the return yet).
enum class hold_point { before_call, after_call };

// Holds one call of a kind inside the seam, on the thread making it, until released: to show what
// other threads can (or cannot) do meanwhile. arm() catches the next call; the destructor releases.
class call_hold {
public:
    call_hold(fault_platform& platform, syscall which, hold_point where = hold_point::before_call);
    ~call_hold() { release(); }
    call_hold(const call_hold&) = delete;
    call_hold& operator=(const call_hold&) = delete;

    void arm() noexcept { state_->armed = true; }
    [[nodiscard]] bool held() const noexcept { return state_->held; }
    void release();

private:
    struct state {
        std::atomic<bool> armed{false};
        std::atomic<bool> held{false};
        std::promise<void> release;
        std::shared_future<void> released{release.get_future().share()};
        std::once_flag once;
    };
    std::shared_ptr<state> state_ = std::make_shared<state>();  // shared with the platform's hook
};

class fault_platform {
public:
    fault_platform();   // installs itself over the native table
    ~fault_platform();  // restores the native table
    fault_platform(const fault_platform&) = delete;
    fault_platform& operator=(const fault_platform&) = delete;

    // The nth call of `which` from now on (1-based) fails at once with `error`.
    void fail_nth(syscall which, std::uint64_t nth, DWORD error);
    // Every call of `which` fails at once with `error` while `active()` holds.
    void fail_while(syscall which, DWORD error, std::function<bool()> active);
    // Each call of a listed kind fails at once with its error with probability `share`.
    struct random_fault {
        syscall which;
        DWORD error;
    };
    void fail_randomly(std::uint32_t seed, double share, std::vector<random_fault> faults);
    // The nth overlapped call of `which` (wsa_recv, wsa_send, wsa_recv_from, wsa_send_to) from now on is not made; instead it
    // reports pending and completes with `status` (an NTSTATUS, e.g. STATUS_CONNECTION_RESET).
    // With STATUS_BUFFER_OVERFLOW on a WSARecvFrom (a truncated datagram), a socket that skips the
    // port on success gets Windows' behaviour there: pending, and no packet ever.
    void complete_nth_with(syscall which, std::uint64_t nth, LONG status);
    // The nth WSASend from now on sends its bytes at once, but its completion is queued only
    // `delay` later, from another thread: it arrives after completions of calls made after it, on
    // whichever worker dequeues it (Windows promises no order between operations).
    void delay_nth_send_completion(std::uint64_t nth, std::chrono::milliseconds delay);
    // The nth WSASend from now on sends its bytes at once and completes (a millisecond later, from
    // another thread) reporting `extra` bytes more than it was given: a defective provider.
    void overreport_nth_send(std::uint64_t nth, DWORD extra);
    // Runs `hook` before each call of `which` (on the calling thread).
    void before(syscall which, std::function<void()> hook);
    // Runs `hook` after each real call of `which` has returned, before the engine sees the return
    // (overlapped calls, posts and CancelIoEx).
    void after(syscall which, std::function<void()> hook);
    // From now on, holds a `share` of the overlapped calls' returns until their completions were
    // handled, and as many completions until their calls returned (call_ordering.h), each wait at
    // most `bound`. The seed comes from WIRE_ORDERING_SEED, or is new; it is printed and returned.
    std::uint32_t explore_orderings(double share = 0.05, std::chrono::milliseconds bound = std::chrono::milliseconds(50));
    [[nodiscard]] call_ordering::counts orderings() const { return ordering_.totals(); }
    void clear();

    [[nodiscard]] std::uint64_t calls(syscall which) const noexcept;
    [[nodiscard]] std::uint64_t injected(syscall which) const noexcept;  // failures and completions made up

    // DisconnectEx(TF_REUSE_SOCKET) completes as on Windows, `delay` after it was called ("the
    // socket handle can be reused after the operation completes": learn.microsoft.com,
    // mswsock.h LPFN_DISCONNECTEX). Wine 8 leaves it pending for ever: the emulation shuts the
    // sending side (what Wine's own call does), then queues the completion. Reuse in AcceptEx
    // then works under Wine; reuse in ConnectEx fails with WSAEISCONN (Wine), which the engine
    // must survive.
    void emulate_disconnect_completion(std::chrono::milliseconds delay = std::chrono::milliseconds(0));
    // ... or finishing at once: DisconnectEx returns TRUE, as Windows may for a passively closed
    // socket. Without skip-on-success the packet is queued as well; the call returns only after a
    // worker has had time to handle it (so an engine that still reads the operation afterwards
    // reads a finished, freed one).
    void emulate_disconnect_finishing_at_once();
    [[nodiscard]] bool disconnect_finishes_at_once() const noexcept { return disconnect_at_once_; }
    [[nodiscard]] std::uint64_t disconnects_completed() const noexcept { return disconnects_completed_; }
    // AcceptEx given an accept socket that is bound fails with WSAEINVAL, as Windows documents
    // ("sAcceptSocket ... must not be bound or connected": AcceptEx, learn.microsoft.com).
    void emulate_accept_rejects_bound_sockets();
    [[nodiscard]] std::uint64_t bound_sockets_refused() const noexcept { return bound_refused_; }
    // The next ConnectEx on a socket reused after an emulated DisconnectEx fails at once with
    // `error` (counted in injected(connect_ex)); ConnectEx on fresh sockets is left alone, so a test
    // does not depend on whether a recycled socket was back in the pool in time.
    void fail_next_reused_connect(DWORD error) noexcept { reused_connect_failure_.store(error); }
    [[nodiscard]] DWORD take_reused_connect_failure() noexcept { return reused_connect_failure_.exchange(0); }
    void count_injected(syscall which) noexcept { ++injected_[static_cast<unsigned>(which)]; }
    [[nodiscard]] call_ordering& ordering() noexcept { return ordering_; }
    void returned(syscall which);  // runs the after-call hooks

    // What the seam passes on (for the trampolines; not for tests).
    struct rule;
    [[nodiscard]] DWORD check(syscall which, bool& complete_instead, LONG& status);
    [[nodiscard]] std::chrono::milliseconds take_send_delay(std::uint64_t call);
    [[nodiscard]] DWORD take_overreport(std::uint64_t call);
    // Queues a completion for `overlapped`, issued on `s`, to the port `s` is associated with.
    void queue_completion(SOCKET s, OVERLAPPED* overlapped, LONG status, std::chrono::milliseconds delay,
                          DWORD bytes = 0);
    void note_bound(SOCKET s);
    void note_closed(SOCKET s);
    [[nodiscard]] bool is_bound(SOCKET s);
    [[nodiscard]] bool disconnect_emulated() const noexcept { return disconnect_delay_.load() >= 0; }
    [[nodiscard]] std::chrono::milliseconds disconnect_delay() const noexcept {
        return std::chrono::milliseconds(disconnect_delay_.load());
    }
    [[nodiscard]] bool accept_rejects_bound() const noexcept { return accept_rejects_bound_; }
    void count_disconnect() noexcept { ++disconnects_completed_; }
    void count_bound_refused() noexcept { ++bound_refused_; }

private:
    mutable std::mutex mutex_;
    std::vector<rule> rules_;
    std::vector<std::pair<syscall, std::function<void()>>> hooks_;
    std::vector<std::pair<syscall, std::function<void()>>> after_hooks_;
    call_ordering ordering_;
    std::mt19937 random_;
    std::atomic<std::uint64_t> calls_[static_cast<unsigned>(syscall::count_)]{};
    std::atomic<std::uint64_t> injected_[static_cast<unsigned>(syscall::count_)]{};
    std::atomic<long long> disconnect_delay_{-1};
    std::atomic<bool> accept_rejects_bound_{false};
    std::atomic<DWORD> reused_connect_failure_{0};
    std::atomic<bool> disconnect_at_once_{false};
    std::atomic<std::uint64_t> disconnects_completed_{0};
    std::atomic<std::uint64_t> bound_refused_{0};
    std::vector<SOCKET> bound_;
    std::vector<std::pair<std::uint64_t, std::chrono::milliseconds>> send_delays_;  // call number, delay
    std::vector<std::pair<std::uint64_t, DWORD>> overreports_;  // call number, extra bytes
};

}  // namespace wire::test
