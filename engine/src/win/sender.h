#pragma once
// A connection's send side: the send queue, the per-connection and engine-wide caps, and the
// gathered WSASend.
//
// Locking: the queue and the `active` flag are guarded by the connection's lock (send() may be
// called from any thread), and every member but issue() and cancel() is called with it held.
// issue() makes the system call without the lock: `active` is set by gather() first, so no other
// thread issues meanwhile, and the blocks the WSABUFs point into never move while later send()
// calls append behind them (see send_queue.h).
//
// The rule for the call itself: once WSASend has returned, the issuing thread touches nothing the
// completion's handler may change. On Windows the completion may already have been dequeued and
// handled on another worker by then (a synchronous success queues its packet inside the call, and
// a pending send can finish before the call returns), and that handler may have gathered and
// issued the next send. So the WSABUF array belongs to the issuing frame (send_batch), not to the
// sender, and issue() reads no member after the call.
#include "core/send_queue.h"
#include "win/connection_context.h"
#include "win/operation.h"
#include "win/winsock.h"

#include <gsl/span>

#include <array>
#include <cstddef>
#include <memory>
#include <system_error>

namespace wire::detail {

class connection_impl;

// The WSABUFs of one WSASend, filled by sender::gather() and owned by the frame that issues it.
// WSASend captures the array before it returns (documented, so that callers may build it on the
// stack; Wine copies it too), so it need not outlive the call: a few entries inline, more from
// the heap for that one call only, rather than a WSABUF array inside every connection.
class send_batch {
public:
    send_batch() noexcept = default;
    send_batch(const send_batch&) = delete;
    send_batch& operator=(const send_batch&) = delete;

    [[nodiscard]] WSABUF* buffers() noexcept { return spilled_ ? spilled_.get() : inline_.data(); }
    [[nodiscard]] DWORD count() const noexcept { return count_; }

private:
    friend class sender;
    static constexpr std::size_t inline_buffers = 4;
    std::array<WSABUF, inline_buffers> inline_{};
    std::unique_ptr<WSABUF[]> spilled_;  // when more than inline_buffers were gathered
    DWORD count_ = 0;
};

class sender {
public:
    sender(const connection_context& context, connection_impl& owner, operation::complete_fn on_complete) noexcept;
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;

    // Copies `data` behind what is queued, or refuses it with error::send_queue_full (a cap),
    // std::errc::message_size (larger than a WSABUF can describe) or not_enough_memory.
    // `admitted`: admit() accepted this size since, so no cap refuses it (connection_layer.h).
    [[nodiscard]] std::error_code enqueue(gsl::span<const std::byte> data, bool admitted = false) noexcept;
    // Whether enqueue() would take `size` bytes now; a refusal counts and arms on_drained as
    // enqueue's does.
    [[nodiscard]] std::error_code admit(std::size_t size) noexcept;

    [[nodiscard]] bool has_data() const noexcept { return !queue_.empty(); }
    [[nodiscard]] bool active() const noexcept { return active_; }
    [[nodiscard]] std::size_t queued() const noexcept { return queue_.size(); }

    // Fills `batch` from the front of the queue and marks a send active.
    void gather(send_batch& batch) noexcept;
    // Marks a send active and returns the front block of the queue: a connect carries it
    // (ConnectEx's send buffer) instead of a WSASend. Asking again before completed() returns the
    // same block (a connect retried on another socket or address sends the same bytes).
    [[nodiscard]] WSABUF gather_front() noexcept;
    // Issues the gathered WSASend (without the lock). Returns true when it finished at once:
    // then `error` and `sent` hold the outcome and no packet will be dequeued. When it returns
    // false the completion owns the send and may already be running on another worker.
    [[nodiscard]] bool issue(SOCKET socket, send_batch& batch, bool skips_port, DWORD& error, DWORD& sent) noexcept;
    // The active send finished, `sent` bytes of it on the wire. False when `sent` exceeds what was
    // gathered: the system reported bytes that were never handed to it, a defect the stream cannot
    // survive (counted in statistics::send_overreports; asserts in debug builds). Nothing is
    // consumed then beyond what was gathered.
    [[nodiscard]] bool completed(DWORD sent) noexcept;
    // Whether on_drained is due: a send was refused and the queue is down to the low-water mark.
    [[nodiscard]] bool take_drain_due() noexcept;
    // Drops what is queued (the connection was reset). Not while a send is active: the kernel
    // still reads those blocks.
    void discard() noexcept;
    void cancel(SOCKET socket) noexcept;

    [[nodiscard]] operation& op() noexcept { return op_; }

private:
    static constexpr std::size_t max_buffers = 64;  // WSABUFs gathered into one WSASend
    static constexpr std::size_t max_single_send = 0xFFFF'FFFFU;  // WSABUF::len is a ULONG

    [[nodiscard]] std::error_code refuse(bool engine_limit) noexcept;
    [[nodiscard]] std::error_code check_caps(std::size_t size, bool& guaranteed) noexcept;

    const connection_context& context_;
    owned_operation<connection_impl> op_;
    send_queue queue_;
    std::size_t gathered_ = 0;   // bytes handed to the active send: what its completion may report
    bool active_ = false;        // a WSASend is outstanding (or being issued)
    bool drain_wanted_ = false;  // send() refused since the last on_drained
};

}  // namespace wire::detail
