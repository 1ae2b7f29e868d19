// A datagram socket's data paths: the posted receives (delivery, truncation, the errors a UDP
// socket survives) and send_to with its cap on the bytes in flight.
#include "win/datagram_impl.h"

#include <wire/error.h>

#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/system_calls.h"

#include <gsl/narrow>

#include <algorithm>
#include <cstring>

namespace wire::detail {

namespace {

// A dual-stack IPv6 socket reports IPv4 peers as ::ffff:a.b.c.d; the handler sees them as the
// IPv4 endpoints they are (and send_to maps them back), as Asio and msquic do.
endpoint unmapped(const sockaddr_storage& address, int length) noexcept {
    if (address.ss_family == AF_INET6 && length >= static_cast<int>(sizeof(sockaddr_in6))) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
        if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
            sockaddr_in v4{};
            v4.sin_family = AF_INET;
            v4.sin_port = v6.sin6_port;
            std::memcpy(&v4.sin_addr, &v6.sin6_addr.s6_addr[12], sizeof(v4.sin_addr));
            return to_endpoint(reinterpret_cast<const sockaddr*>(&v4), static_cast<int>(sizeof(v4)));
        }
    }
    return to_endpoint(reinterpret_cast<const sockaddr*>(&address), length);
}

endpoint v4_mapped(const endpoint& v4) noexcept {
    sockaddr_in address{};
    std::memcpy(&address, v4.data(), sizeof(address));
    sockaddr_in6 mapped{};
    mapped.sin6_family = AF_INET6;
    mapped.sin6_port = address.sin_port;
    mapped.sin6_addr.s6_addr[10] = 0xFF;
    mapped.sin6_addr.s6_addr[11] = 0xFF;
    std::memcpy(&mapped.sin6_addr.s6_addr[12], &address.sin_addr, sizeof(address.sin_addr));
    return to_endpoint(reinterpret_cast<const sockaddr*>(&mapped), static_cast<int>(sizeof(mapped)));
}

// What one receive's outcome means for the socket.
enum class receive_outcome { datagram, truncated, survived, cancelled, fatal };

receive_outcome classify(DWORD error) noexcept {
    switch (error) {
    case ERROR_SUCCESS:
        return receive_outcome::datagram;
    // WSAEMSGSIZE when WSARecvFrom fails at once; ERROR_MORE_DATA (STATUS_BUFFER_OVERFLOW) when
    // the truncated datagram completes through the port.
    case WSAEMSGSIZE:
    case ERROR_MORE_DATA:
        return receive_outcome::truncated;
    // ICMP errors about an earlier send (SIO_UDP_CONNRESET and its relatives): they concern one
    // peer, never this socket. msquic and Asio keep receiving after them too.
    case WSAECONNRESET:
    case ERROR_NETNAME_DELETED:
    case ERROR_PORT_UNREACHABLE:
    case ERROR_HOST_UNREACHABLE:
    case ERROR_NETWORK_UNREACHABLE:
    case ERROR_PROTOCOL_UNREACHABLE:
    case ERROR_CONNECTION_REFUSED:
    case WSAECONNREFUSED:
    case WSAENETRESET:  // TTL expired in transit
    case WSAENETUNREACH:
    case WSAEHOSTUNREACH:
        return receive_outcome::survived;
    default:
        break;
    }
    // Our own close or cancel (995, 1235, Wine's 676, a closed handle): the receive ends.
    return to_error_code(error) == error::aborted ? receive_outcome::cancelled : receive_outcome::fatal;
}

}  // namespace

void datagram_impl::on_receive(operation& op, DWORD error, DWORD bytes) noexcept {
    auto& receive = static_cast<receive_operation&>(op);
    receive.owner->receive_loop(receive, error, bytes);
}

void datagram_impl::on_send(operation& op, DWORD error, DWORD bytes) noexcept {
    auto& send = static_cast<send_operation&>(op);
    datagram_impl& owner = *send.owner;
    const std::shared_ptr<datagram_impl> self = owner.shared_from_this();  // finalize may drop the registry's
    owner.finish_send(send, error, bytes);
}

bool datagram_impl::issue_receive(receive_operation& op, DWORD& error, DWORD& bytes) noexcept {
    // max_datagram_size is validated to at most 65527: it fits a ULONG.
    WSABUF buffer{gsl::narrow_cast<ULONG>(options_.max_datagram_size), reinterpret_cast<char*>(op.buffer.get())};
    op.reset_overlapped();
    op.from_length = static_cast<INT>(sizeof(op.from));
    op.flags = 0;
    bytes = 0;
    counters_.receive_calls.fetch_add(1, std::memory_order_relaxed);
    engine_counters::add(engine_counters_->receive_calls);
    // No byte count: Microsoft asks for a null lpNumberOfBytesRecvd with an OVERLAPPED.
    const int result = sys().wsa_recv_from(socket_value_.load(std::memory_order_relaxed), &buffer, 1, nullptr, &op.flags,
                                           reinterpret_cast<sockaddr*>(&op.from), &op.from_length, &op, nullptr);
    const int failure = result == 0 ? 0 : ::WSAGetLastError();
    // Datagram sockets never skip the port (completion_port.h), so a packet finishes a success.
    // WSAEMSGSIZE is a truncated datagram, not a failed call: the receive ran and its status
    // (STATUS_BUFFER_OVERFLOW) is a warning, which completes like a success, packet included
    // (handling it here as well would finish the receive twice, as zio's IOCP backend once did).
    if (failure == 0 || failure == WSAEMSGSIZE || failure == WSA_IO_PENDING) {
        return false;  // the completion may be running on another worker now: nothing follows
    }
    error = static_cast<DWORD>(failure);  // immediate failure: no packet is queued
    return true;
}

bool datagram_impl::handle_received(receive_operation& op, DWORD error, DWORD bytes, std::error_code& fatal) noexcept {
    switch (classify(error)) {
    case receive_outcome::datagram: {
        const endpoint from = unmapped(op.from, op.from_length);
        counters_.datagrams_received.fetch_add(1, std::memory_order_relaxed);
        counters_.bytes_received.fetch_add(bytes, std::memory_order_relaxed);
        engine_counters::add(engine_counters_->bytes_received, bytes);
        datagram_socket handle(shared_from_this());
        handler_->on_datagram(handle, from, {op.buffer.get(), bytes});
        return true;
    }
    case receive_outcome::truncated: {
        const endpoint from = unmapped(op.from, op.from_length);
        counters_.datagrams_truncated.fetch_add(1, std::memory_order_relaxed);
        datagram_socket handle(shared_from_this());
        handler_->on_truncated(handle, from, std::min<std::size_t>(bytes, options_.max_datagram_size));
        return true;
    }
    case receive_outcome::survived:
        counters_.receive_errors.fetch_add(1, std::memory_order_relaxed);
        return true;
    case receive_outcome::cancelled:
        fatal = make_error_code(error::aborted);  // only closes a socket nobody had closed
        return false;
    case receive_outcome::fatal:
        // Anything else (no buffers or memory in the stack, the network gone): re-posting would
        // meet it again at once, so the socket closes with it and on_close tells the owner.
        counters_.receive_errors.fetch_add(1, std::memory_order_relaxed);
        fatal = to_error_code(error);
        return false;
    }
    return false;
}

// Runs on a worker holding the receive's unit.
void datagram_impl::receive_loop(receive_operation& op, DWORD error, DWORD bytes) noexcept {
    const std::shared_ptr<datagram_impl> self = shared_from_this();  // finalize may drop the registry's
    for (unsigned runs = 1;; ++runs) {
        std::error_code fatal;
        const bool again = handle_received(op, error, bytes, fatal);
        if (!again) {
            close(fatal);  // no-op when closing already
        }
        lock_type lock(mutex_);
        if (!again || !begin_issue(lock)) {
            finish_operation(lock);  // the receive's unit: the last one after close() finalizes
            return;
        }
        lock.unlock();
        const bool finished_at_once = issue_receive(op, error, bytes);
        lock.lock();
        finish_issue(lock);  // the receive's unit is with the pending call, or still ours
        if (!finished_at_once) {
            return;
        }
        if (runs >= context_.options.max_inline_completions && context_.port.should_yield()) {
            context_.port.post(op, error, bytes);  // yield: the others' completions come first
            return;
        }
    }
}

std::error_code datagram_impl::send_to(const endpoint& to, gsl::span<const std::byte> data) noexcept {
    if (data.size() > max_payload) {
        return std::make_error_code(std::errc::message_size);
    }
    endpoint destination = to;
    if (ipv6_ && !to.is_v6()) {
        if (!options_.dual_stack) {
            return std::make_error_code(std::errc::address_family_not_supported);
        }
        destination = v4_mapped(to);
    } else if (!ipv6_ && to.is_v6()) {
        return std::make_error_code(std::errc::address_family_not_supported);
    }

    std::unique_ptr<send_operation> op;
    SOCKET s = INVALID_SOCKET;
    {
        lock_type lock(mutex_);
        if (teardown_.closed()) {
            return make_error_code(error::not_connected);
        }
        const std::size_t cap = options_.send_queue_cap;
        if (in_flight_bytes_ > 0 && data.size() > cap - std::min(in_flight_bytes_, cap)) {
            counters_.sends_refused.fetch_add(1, std::memory_order_relaxed);
            engine_counters::add(engine_counters_->sends_refused);
            return make_error_code(error::send_queue_full);
        }
        if (!spare_sends_.empty()) {
            op = std::move(spare_sends_.back());
            spare_sends_.pop_back();
        }
        (void)teardown_.begin_operation();  // open: cannot fail
        in_flight_bytes_ += data.size();
        s = socket_.get();
    }
    try {
        if (!op) {
            op = std::make_unique<send_operation>(*this);
        }
        op->payload.assign(data.begin(), data.end());
    } catch (const std::bad_alloc&) {
        lock_type lock(mutex_);
        in_flight_bytes_ -= data.size();
        (void)teardown_.end_unit();  // the send's (the call's unit is still held: never the last)
        finish_issue(lock);
        return std::make_error_code(std::errc::not_enough_memory);
    }
    op->to = destination;
    op->reset_overlapped();
    // At most 65527 bytes (checked above): fits a ULONG.
    WSABUF buffer{gsl::narrow_cast<ULONG>(op->payload.size()), reinterpret_cast<char*>(op->payload.data())};
    counters_.send_calls.fetch_add(1, std::memory_order_relaxed);
    engine_counters::add(engine_counters_->send_calls);
    send_operation* const issued = op.release();  // the kernel's until the completion is handled
    std::error_code result;
    // No byte count (Microsoft's rule with an OVERLAPPED). A success is finished by its packet:
    // datagram sockets never skip the port (completion_port.h).
    if (sys().wsa_send_to(s, &buffer, 1, nullptr, 0, as_sockaddr(issued->to), issued->to.size(), issued, nullptr) != 0) {
        if (const int failure = ::WSAGetLastError(); failure != WSA_IO_PENDING) {
            result = to_error_code(static_cast<DWORD>(failure));  // no packet is queued
            finish_send(*issued, static_cast<DWORD>(failure), 0);
        }
    }
    lock_type lock(mutex_);
    finish_issue(lock);
    return result;
}

// The send has completed (dequeued, inline or at once): its bytes leave the cap, the operation
// goes back to the spares, its unit ends.
void datagram_impl::finish_send(send_operation& op, DWORD error, DWORD bytes) noexcept {
    std::unique_ptr<send_operation> owned(&op);
    const std::size_t size = owned->payload.size();
    if (error == ERROR_SUCCESS) {
        counters_.datagrams_sent.fetch_add(1, std::memory_order_relaxed);
        counters_.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
        engine_counters::add(engine_counters_->bytes_sent, bytes);
    } else {
        counters_.send_failures.fetch_add(1, std::memory_order_relaxed);
    }
    lock_type lock(mutex_);
    in_flight_bytes_ -= size;
    if (!teardown_.closed() && spare_sends_.size() < max_spare_sends) {
        try {
            spare_sends_.push_back(std::move(owned));
        } catch (const std::bad_alloc&) {
            // freed below instead
        }
    }
    finish_operation(lock);  // unlocks; `owned`, if still held, is freed after it
}

}  // namespace wire::detail
