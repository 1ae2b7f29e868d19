#pragma once
// The engine's I/O completion port: the handle, association of sockets with it, and posting.
//
// Posting never fails silently: PostQueuedCompletionStatus fails only when the system is short of
// memory, and the operation being posted holds a unit on its owner that only its completion gives
// back (win/teardown.h). So a failed post is counted and retried by a timer (on a worker) until it
// goes through or the engine stops; the owner stays alive meanwhile because that unit is still
// held. Only when even the retry's timer cannot be allocated is the packet lost: its owner then
// never finalizes, and stop() finds it when its bounded drain expires and leaks the engine rather
// than free memory the packet may still name (engine_core::stop).
#include "core/timer_queue.h"
#include "win/engine_counters.h"
#include "win/operation.h"
#include "win/unique_handle.h"
#include "win/winsock.h"

#include <atomic>
#include <system_error>

namespace wire::detail {

class completion_port {
public:
    // Throws std::system_error when the port cannot be created (set-up only).
    completion_port(unsigned concurrency, bool skip_on_success, engine_counters& counters, timer_queue& timers);
    completion_port(const completion_port&) = delete;
    completion_port& operator=(const completion_port&) = delete;

    // Associates a socket with the port and, where supported, lets synchronous successes skip it.
    // `skips_port_on_success` says whether they do for this socket.
    //
    // Datagram sockets never skip the port: with skip-on-success, Windows' WSARecvFrom reports a
    // truncated datagram that completed at once (STATUS_BUFFER_OVERFLOW, a warning) as pending
    // while no packet is queued for it, so that receive would stay outstanding for ever and a
    // peer's oversized datagrams could make the socket deaf. libuv names the bug (src/win/udp.c:
    // "impossible to use this function in conjunction with datagram sockets") and skips only by
    // calling AFD itself; one dequeue per datagram is the price here.
    enum class socket_kind { stream, datagram };
    [[nodiscard]] std::error_code associate(SOCKET socket, socket_kind kind, bool& skips_port_on_success) noexcept;

    // Queues `op` to a worker as if it had completed with `error` and `bytes`: so that a user
    // callback never runs inside the call that started an operation, and to yield after a run of
    // inline completions. Delivered unless memory runs out twice over (see above).
    void post(operation& op, DWORD error, DWORD bytes = 0) noexcept;
    // One attempt, no retry: false when the port refused the packet.
    [[nodiscard]] bool try_post(operation& op, DWORD error, DWORD bytes = 0) noexcept;
    // Wakes one worker so that it leaves its loop.
    void post_quit() noexcept;
    // Wakes one worker so that it looks at the timers; false when the port refused the packet.
    [[nodiscard]] bool post_wake() noexcept;

    // Whether a worker that has handled max_inline_completions synchronous completions in a row
    // should now yield through the port: when completions it has already dequeued wait behind
    // it, or work held in a calling frame (holding_work), when no worker waits on the port (new
    // packets would wait for a worker to come back), or when a timer is due (a worker runs due
    // timers after its batch). Otherwise a waiting worker takes any new packet at once (the port's
    // concurrency is the worker count), and yielding would only cost a post and a dequeue, and
    // move the connection to another thread. A free worker is not a free CPU when there are more
    // workers than CPUs: the scheduler shares those, as it shares them between any threads.
    [[nodiscard]] bool should_yield() const noexcept;

    // Kept by the worker loop around each dequeue, and before each completion of a batch.
    void begin_wait() noexcept { workers_waiting_.fetch_add(1, std::memory_order_relaxed); }
    void end_wait() noexcept { workers_waiting_.fetch_sub(1, std::memory_order_relaxed); }
    static void set_batch_left(unsigned completions) noexcept;

    // While alive, and `holding` is true: the calling frame holds work that runs only after the
    // call it wraps returns (an accept that finished at once while the previous connection is
    // handed over), so runs nested in that call yield as they would for a dequeued completion.
    class holding_work {
    public:
        explicit holding_work(bool holding) noexcept;
        ~holding_work();
        holding_work(const holding_work&) = delete;
        holding_work& operator=(const holding_work&) = delete;

    private:
        bool holding_;
    };

    [[nodiscard]] HANDLE handle() const noexcept { return port_.get(); }
    [[nodiscard]] bool skip_on_success() const noexcept { return skip_on_success_; }

private:
    void retry_post(operation& op, DWORD error, DWORD bytes) noexcept;

    unique_handle port_;
    bool skip_on_success_ = false;
    engine_counters& counters_;
    timer_queue& timers_;
    std::atomic<unsigned> workers_waiting_{0};  // a hint: read without ordering
};

}  // namespace wire::detail
