#pragma once
// A connection's receive side: the receive operation, the buffers it receives into, and the
// strategy (engine_options::receive) that picks them.
//
// Ownership: only the receive path touches the buffers and the strategy state. A connection has
// one receive outstanding at a time, and the thread that handles its completion is the only one
// that issues the next, so none of it needs a lock. The idle sweep learns whether the outstanding
// receive holds a pooled buffer from atomics published before each WSARecv, and parks it by
// cancelling this one operation by name (CancelIoEx with its OVERLAPPED), which can never touch
// another object's I/O.
#include <wire/options.h>

#include "core/buffer_pool.h"
#include "core/timer_queue.h"
#include "win/connection_context.h"
#include "win/operation.h"
#include "win/winsock.h"

#include <gsl/span>

#include <array>
#include <atomic>
#include <cstddef>

namespace wire::detail {

class connection_impl;

class receiver {
public:
    using clock = timer_queue::clock;

    receiver(const connection_context& context, connection_impl& owner, operation::complete_fn on_complete) noexcept;
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    // Picks the buffer for the next receive (per strategy) and issues WSARecv. Returns true when
    // it finished at once (outcome in `error` and `bytes`; no packet will be dequeued), false when
    // a completion will be dequeued. A buffer that cannot be allocated finishes at once with
    // ERROR_NOT_ENOUGH_MEMORY.
    [[nodiscard]] bool issue(SOCKET socket, bool skips_port, DWORD& error, DWORD& bytes) noexcept;
    // The completed receive was a zero-byte one (zero_byte mode): data is waiting, read it now.
    [[nodiscard]] bool completed_probe() const noexcept { return outstanding_ == kind::probe; }
    // The bytes the completed receive delivered.
    [[nodiscard]] gsl::span<const std::byte> data(DWORD bytes) const noexcept;
    // After the delivery of `bytes`: records the arrival and adapts the buffers to the traffic.
    void after_delivery(DWORD bytes) noexcept;

    // Idle sweep (any thread): whether the outstanding receive holds a pooled buffer and has
    // seen nothing for receive_park_after.
    [[nodiscard]] bool parkable(clock::time_point now) const noexcept;
    // Idle sweep: asks the outstanding receive to give its buffer back by cancelling it.
    void request_park(SOCKET socket) noexcept;
    // Receive path: whether a park was asked for since the last delivery (clears the request).
    [[nodiscard]] bool take_park_request() noexcept { return park_requested_.exchange(false); }
    // Receive path: a cancelled pooled receive gives its buffer back; the next one waits small.
    void park() noexcept;

    // Cancels the outstanding receive (closing).
    void cancel(SOCKET socket) noexcept;
    // Gives every buffer back (finalize: nothing is outstanding).
    void release() noexcept;

    [[nodiscard]] operation& op() noexcept { return op_; }

private:
    enum class kind : unsigned char { none, probe, small, pooled, bulk };

    [[nodiscard]] bool take_pooled() noexcept;
    void give_pooled() noexcept;
    [[nodiscard]] kind next_kind() const noexcept;
    [[nodiscard]] std::size_t capacity(kind k) const noexcept;

    const connection_context& context_;
    owned_operation<connection_impl> op_;
    kind outstanding_ = kind::none;  // the receive issued last
    buffer_pool::buffer pooled_;     // from receive_buffers, or from bulk_receive_buffers when bulk_
    bool bulk_ = false;
    bool received_before_ = false;
    // Adaptive mode's receive while no pooled buffer is held: large enough for a typical request,
    // small enough that a quiet connection stays far below one pooled buffer.
    std::array<std::byte, 512> small_{};
    // Read by the idle sweep.
    std::atomic<bool> holds_pooled_{false};  // the outstanding receive uses pooled_
    std::atomic<clock::rep> last_received_;
    std::atomic<bool> park_requested_{false};
};

}  // namespace wire::detail
