#include "win/sender.h"
#include "win/system_calls.h"

#include <wire/error.h>

#include <gsl/narrow>

#include <algorithm>
#include <cassert>

namespace wire::detail {

sender::sender(const connection_context& context, connection_impl& owner, operation::complete_fn on_complete) noexcept
    : context_(context), op_(owner, on_complete) {}

std::error_code sender::enqueue(gsl::span<const std::byte> data, bool admitted) noexcept {
    if (data.size() > max_single_send) {
        return std::make_error_code(std::errc::message_size);  // a WSABUF cannot describe it
    }
    bool guaranteed = admitted;
    if (!admitted) {
        const std::error_code refused = check_caps(data.size(), guaranteed);
        if (refused) {
            return refused;
        }
    }
    if (guaranteed) {
        context_.send_budget.force_reserve(data.size());
    } else if (!context_.send_budget.try_reserve(data.size())) {
        return refuse(true);
    }
    try {
        queue_.append(data);
    } catch (const std::bad_alloc&) {
        context_.send_budget.release(data.size());
        return std::make_error_code(std::errc::not_enough_memory);
    }
    return {};
}

std::error_code sender::admit(std::size_t size) noexcept {
    if (size > max_single_send) {
        return std::make_error_code(std::errc::message_size);
    }
    bool guaranteed = false;
    if (const std::error_code refused = check_caps(size, guaranteed); refused) {
        return refused;
    }
    if (!guaranteed) {
        if (!context_.send_budget.try_reserve(size)) {
            return refuse(true);
        }
        context_.send_budget.release(size);  // a probe: enqueue(admitted) reserves for good
    }
    return {};
}

// The per-connection cap; `guaranteed` tells whether the size is within the connection's share
// that the engine-wide bound never refuses.
std::error_code sender::check_caps(std::size_t size, bool& guaranteed) noexcept {
    const std::size_t queued = queue_.size();
    const std::size_t cap = context_.options.send_queue_cap;
    if (queued > 0 && size > cap - std::min(queued, cap)) {
        return refuse(false);
    }
    // An empty queue always takes one buffer, as for the per-connection cap: a connection whose
    // peer reads can always make progress, however much others have queued.
    const std::size_t share = context_.options.send_queue_guaranteed;
    guaranteed = queued == 0 || (size <= share && queued <= share - size);
    return {};
}

// Only with bytes queued: on_drained follows from this connection's own queue falling to its
// low-water mark, whichever limit refused (an empty queue is never refused, so no refusal waits
// on other connections).
std::error_code sender::refuse(bool engine_limit) noexcept {
    drain_wanted_ = true;
    engine_counters::add(context_.counters->sends_refused);
    if (engine_limit) {
        engine_counters::add(context_.counters->sends_refused_engine_limit);
    }
    return make_error_code(error::send_queue_full);
}

void sender::gather(send_batch& batch) noexcept {
    std::array<gsl::span<const std::byte>, max_buffers> spans;
    std::size_t count = queue_.gather(spans);
    batch.spilled_.reset();
    WSABUF* buffers = batch.inline_.data();
    if (count > batch.inline_.size()) {
        try {
            batch.spilled_ = std::make_unique<WSABUF[]>(count);
            buffers = batch.spilled_.get();
        } catch (const std::bad_alloc&) {
            count = batch.inline_.size();  // without memory: fewer buffers this time, the rest next
        }
    }
    gathered_ = 0;
    for (std::size_t i = 0; i < count; ++i) {
        // A block never exceeds what one send() accepted, which enqueue() bounds to a ULONG.
        buffers[i].len = gsl::narrow<ULONG>(spans[i].size());
        buffers[i].buf = reinterpret_cast<char*>(const_cast<std::byte*>(spans[i].data()));
        gathered_ += spans[i].size();
    }
    batch.count_ = gsl::narrow_cast<DWORD>(count);  // at most max_buffers
    active_ = true;
}

WSABUF sender::gather_front() noexcept {
    std::array<gsl::span<const std::byte>, 1> front;
    WSABUF buffer{};
    if (queue_.gather(front) == 1) {
        buffer.len = gsl::narrow<ULONG>(front[0].size());  // bounded by enqueue(), as in gather()
        buffer.buf = reinterpret_cast<char*>(const_cast<std::byte*>(front[0].data()));
    }
    gathered_ = buffer.len;
    active_ = true;
    return buffer;
}

bool sender::issue(SOCKET socket, send_batch& batch, bool skips_port, DWORD& error, DWORD& sent) noexcept {
    op_.reset_overlapped();
    sent = 0;
    engine_counters::add(context_.counters->send_calls);
    operation* const op = &op_;
    engine_counters* const counters = context_.counters.get();
    // No byte count: Microsoft asks for a null lpNumberOfBytesSent with an OVERLAPPED. A send that
    // finished at once with no packet to come reports its count in the OVERLAPPED.
    const int result = sys().wsa_send(socket, batch.buffers(), batch.count(), nullptr, 0, op, nullptr);
    // From here on only locals: the completion may be running on another worker (see sender.h).
    if (result == 0) {
        if (!skips_port) {
            return false;  // a packet is queued for this success too
        }
        engine_counters::add(counters->completions_inline);
        error = ERROR_SUCCESS;
        sent = gsl::narrow_cast<DWORD>(op->InternalHigh);  // no packet: the operation is still ours
        return true;
    }
    const int failure = ::WSAGetLastError();
    if (failure == WSA_IO_PENDING) {
        return false;
    }
    error = static_cast<DWORD>(failure);  // immediate failure: no packet is queued
    return true;
}

bool sender::completed(DWORD sent) noexcept {
    active_ = false;
    const bool plausible = sent <= gathered_;
    if (!plausible) {
        engine_counters::add(context_.counters->send_overreports);
    }
    assert(plausible && "a send completion reported more bytes than were gathered");
    const std::size_t done = std::min<std::size_t>(sent, gathered_);
    gathered_ = 0;
    queue_.consume(done);
    context_.send_budget.release(done);
    engine_counters::add(context_.counters->bytes_sent, done);
    return plausible;
}

bool sender::take_drain_due() noexcept {
    if (drain_wanted_ && queue_.size() <= context_.options.send_queue_low_water) {
        drain_wanted_ = false;
        return true;
    }
    return false;
}

void sender::discard() noexcept {
    if (active_) {
        return;  // freed when the outstanding send completes
    }
    context_.send_budget.release(queue_.size());
    queue_.clear();
    drain_wanted_ = false;
}

void sender::cancel(SOCKET socket) noexcept { sys().cancel_io_ex(reinterpret_cast<HANDLE>(socket), &op_); }

}  // namespace wire::detail
