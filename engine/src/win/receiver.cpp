#include "win/receiver.h"
#include "win/system_calls.h"

#include <gsl/narrow>

namespace wire::detail {

namespace {

receiver::clock::rep now_ticks() noexcept { return receiver::clock::now().time_since_epoch().count(); }

}  // namespace

receiver::receiver(const connection_context& context, connection_impl& owner, operation::complete_fn on_complete) noexcept
    : context_(context), op_(owner, on_complete), last_received_(now_ticks()) {}

// The strategies (engine_options::receive), in one place:
// - buffered: always a pooled buffer.
// - zero_byte: without a pooled buffer, wait in a zero-byte receive (it completes when data or the
//   FIN arrives); only then take a buffer and read; give it back once a read leaves it part empty.
// - adaptive: without a pooled buffer, receive into the small buffer inside the connection (a lone
//   small message costs one call and no pooled buffer); take a pooled one once data flows.
// Any strategy holding a pooled buffer keeps receiving into it (bulk_ after a receive filled it).
receiver::kind receiver::next_kind() const noexcept {
    if (pooled_) {
        return bulk_ ? kind::bulk : kind::pooled;
    }
    switch (context_.options.receive) {
    case receive_mode::buffered:
        return kind::pooled;
    case receive_mode::zero_byte:
        return outstanding_ == kind::probe ? kind::pooled : kind::probe;
    case receive_mode::adaptive:
        break;
    }
    return kind::small;
}

std::size_t receiver::capacity(kind k) const noexcept {
    switch (k) {
    case kind::none:
    case kind::probe:
        return 0;
    case kind::small:
        return small_.size();
    case kind::pooled:
        return context_.receive_buffers.buffer_size();
    case kind::bulk:
        return context_.bulk_receive_buffers.buffer_size();
    }
    return 0;
}

bool receiver::issue(SOCKET socket, bool skips_port, DWORD& error, DWORD& bytes) noexcept {
    const kind k = next_kind();
    if (k == kind::pooled && !pooled_ && !take_pooled()) {
        error = ERROR_NOT_ENOUGH_MEMORY;
        bytes = 0;
        return true;
    }
    std::byte* const base = k == kind::small ? small_.data() : pooled_.get();
    // Pool buffer sizes are clamped to 16 MiB by the options' validation: they fit a ULONG.
    WSABUF buffer{gsl::narrow_cast<ULONG>(capacity(k)), reinterpret_cast<char*>(base)};
    outstanding_ = k;
    holds_pooled_.store(k == kind::pooled || k == kind::bulk, std::memory_order_relaxed);
    op_.reset_overlapped();
    DWORD flags = 0;
    engine_counters::add(context_.counters->receive_calls);
    // No byte count: Microsoft asks for a null lpNumberOfBytesRecvd with an OVERLAPPED. After the
    // call only locals are touched unless no packet is queued (the completion may be running).
    if (sys().wsa_recv(socket, &buffer, 1, nullptr, &flags, &op_, nullptr) == 0) {
        if (!skips_port) {
            return false;  // a packet is queued for this success too: handle it there, not twice
        }
        engine_counters::add(context_.counters->completions_inline);
        error = ERROR_SUCCESS;
        bytes = gsl::narrow_cast<DWORD>(op_.InternalHigh);  // no packet: the operation is still ours
        return true;
    }
    const int failure = ::WSAGetLastError();
    if (failure == WSA_IO_PENDING) {
        return false;
    }
    error = static_cast<DWORD>(failure);  // immediate failure: no packet is queued
    bytes = 0;
    return true;
}

gsl::span<const std::byte> receiver::data(DWORD bytes) const noexcept {
    const std::byte* base = outstanding_ == kind::small ? small_.data() : pooled_.get();
    return {base, bytes};
}

void receiver::after_delivery(DWORD bytes) noexcept {
    const auto arrived = now_ticks();
    const auto previous = last_received_.exchange(arrived, std::memory_order_relaxed);
    // A burst soon after the previous one: data flows, so adaptive mode keeps its pooled buffer.
    const bool flowing = received_before_ && clock::duration(arrived - previous) < context_.options.receive_park_after;
    received_before_ = true;
    park_requested_.store(false);  // a park asked for before this data concerned a busy receive

    const kind k = outstanding_;
    const std::size_t filled = capacity(k);
    if (k == kind::pooled && bytes == filled) {
        // The normal buffer was filled: more is waiting, a bulk transfer. Receive into a bulk
        // buffer from now on (without memory for one, keep the normal buffer).
        try {
            buffer_pool::buffer bulk = context_.bulk_receive_buffers.take();
            give_pooled();
            pooled_ = std::move(bulk);
            bulk_ = true;
        } catch (const std::bad_alloc&) {
            // keep the normal buffer
        }
    } else if (k == kind::bulk && bytes <= context_.receive_buffers.buffer_size()) {
        give_pooled();  // small again: the strategy takes a normal buffer if it needs one
    }
    switch (context_.options.receive) {
    case receive_mode::buffered:
        break;
    case receive_mode::zero_byte:
        if (bytes < filled) {
            give_pooled();  // drained what was there: wait in a zero-byte receive again
        }
        break;
    case receive_mode::adaptive:
        if (bytes < filled && !flowing) {
            // A lone burst (a hello, a request after a pause): a connection that said one thing
            // and went quiet holds no pooled buffer; the small one waits for the next.
            give_pooled();
        } else if (!pooled_) {
            (void)take_pooled();  // data flows: one call per burst; without memory, stay small
        }
        break;
    }
}

bool receiver::parkable(clock::time_point now) const noexcept {
    if (!holds_pooled_.load(std::memory_order_relaxed)) {
        return false;
    }
    const auto last = clock::time_point(clock::duration(last_received_.load(std::memory_order_relaxed)));
    return now - last >= context_.options.receive_park_after;
}

void receiver::request_park(SOCKET socket) noexcept {
    park_requested_.store(true);
    // By name: if this receive has completed meanwhile, the cancel finds nothing or the next
    // receive, whose completion then sees the request and simply re-issues.
    sys().cancel_io_ex(reinterpret_cast<HANDLE>(socket), &op_);
}

void receiver::park() noexcept {
    engine_counters::add(context_.counters->receives_parked);
    give_pooled();
}

void receiver::cancel(SOCKET socket) noexcept { sys().cancel_io_ex(reinterpret_cast<HANDLE>(socket), &op_); }

void receiver::release() noexcept { give_pooled(); }

bool receiver::take_pooled() noexcept {
    try {
        pooled_ = context_.receive_buffers.take();
        bulk_ = false;
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

void receiver::give_pooled() noexcept {
    if (pooled_) {
        (bulk_ ? context_.bulk_receive_buffers : context_.receive_buffers).give(std::move(pooled_));
    }
    bulk_ = false;
    holds_pooled_.store(false, std::memory_order_relaxed);
}

}  // namespace wire::detail
