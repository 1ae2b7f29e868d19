#pragma once
// A UDP socket on the engine's completion port: the handle users keep, the handler through which
// the engine reports datagrams, its options and its counters. Opened with engine::open_datagram.
#include <wire/endpoint.h>

#include <gsl/span>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>

namespace wire {

namespace detail {
class datagram_impl;
}

class datagram_socket;

// Receives a datagram socket's events on the engine's worker threads.
// - on_datagram once per datagram received whole. Several receives are kept posted, so calls for
//   one socket may run on several workers at once and in any order (UDP promises none anyway).
//   The span is valid only during the call; copy what must outlive it. A zero-byte datagram is
//   delivered as an empty span.
// - on_truncated for a datagram larger than datagram_options::max_datagram_size (Windows reports
//   WSAEMSGSIZE and discards the rest): never delivered as if it were whole. `received` is how
//   many bytes arrived in the buffer (the datagram's own size is unknown).
// - on_close exactly once, after every other call has returned; nothing follows it. The reason is
//   empty after close(), error::engine_stopped when the engine stopped, or the receive error that
//   ended the socket.
// The engine owns the handler and destroys it after on_close. Callbacks must not throw.
class datagram_handler {
public:
    virtual ~datagram_handler() = default;
    virtual void on_datagram(datagram_socket& socket, const endpoint& from, gsl::span<const std::byte> data) = 0;
    virtual void on_truncated(datagram_socket& /*socket*/, const endpoint& /*from*/, std::size_t /*received*/) {}
    virtual void on_close(datagram_socket& /*socket*/, std::error_code /*reason*/) {}
};

// Checked by engine::open_datagram, which throws std::invalid_argument naming the field out of range.
struct datagram_options {
    // WSARecvFrom calls kept posted, each with a buffer of max_datagram_size: a single outstanding
    // receive loses datagrams that arrive while its completion is being handled. 1..1024.
    unsigned pending_receives = 8;
    // Largest datagram delivered whole; larger ones are reported truncated. 1..65527 (the largest
    // UDP payload over IPv6; IPv4's is 65507). Memory: pending_receives x this, held while open.
    std::size_t max_datagram_size = 65'527;
    // Bytes of datagrams accepted by send_to and not yet completed by the system. Past it send_to
    // refuses with error::send_queue_full (nothing is queued beyond it). At least 1; one datagram
    // is always accepted while nothing is in flight.
    std::size_t send_queue_cap = 1024 * 1024;
    bool dual_stack = false;  // an IPv6 socket also sends to and receives from IPv4 (IPV6_V6ONLY off)
    // Windows' SIO_UDP_CONNRESET: when on, an ICMP "port unreachable" (a peer that went away) ends
    // the next WSARecvFrom with WSAECONNRESET. Off by default: one vanished client must not disturb
    // a server's socket. Either way such errors are counted and the receive re-posted.
    bool report_connection_reset = false;
};

// One socket's counters (relaxed atomics; a snapshot is approximately consistent).
struct datagram_statistics {
    std::uint64_t datagrams_received = 0;  // delivered to on_datagram
    std::uint64_t bytes_received = 0;
    std::uint64_t datagrams_sent = 0;      // sends the system completed successfully
    std::uint64_t bytes_sent = 0;
    std::uint64_t datagrams_truncated = 0;  // larger than max_datagram_size: reported, not delivered
    std::uint64_t receive_errors = 0;       // ICMP-reported errors (unreachable, reset) and others a receive survived
    std::uint64_t sends_refused = 0;        // send_to refused with send_queue_full
    std::uint64_t send_failures = 0;        // sends the system failed (at once or by completion)
    std::uint64_t receive_calls = 0;        // WSARecvFrom issued
    std::uint64_t send_calls = 0;           // WSASendTo issued
    std::uint64_t completions_inline = 0;   // always 0: datagram sockets never skip the port (each completion is dequeued)
    std::uint64_t bytes_in_flight = 0;      // now: accepted by send_to, not yet completed
    std::uint64_t operations_pending = 0;   // now: receives and sends not yet completed (0 once closed)
};

// A shared, copyable handle. The socket stays open until close() or the engine stops (dropping
// every handle does not close it: the engine keeps it); its memory lives until its last handle is
// dropped and its last operation has completed. Once closed every call is harmless. All members
// are thread-safe.
class datagram_socket {
public:
    datagram_socket() = default;
    explicit datagram_socket(std::shared_ptr<detail::datagram_impl> impl) noexcept;

    // Copies `data` and sends it to `to` as one datagram; returns at once, never blocks. Refuses
    // with std::errc::message_size above 65527 bytes, error::send_queue_full when the bytes in
    // flight would pass send_queue_cap, error::not_connected once closing, std::errc::address_family_not_supported
    // for an IPv4 destination on an IPv6 socket without dual_stack (and the reverse), or the
    // system's error when WSASendTo fails at once. A failure the system reports later is counted
    // (send_failures) only: UDP promises no delivery.
    [[nodiscard]] std::error_code send_to(const endpoint& to, gsl::span<const std::byte> data) const noexcept;

    // Cancels the posted receives and closes the socket; on_close follows on a worker once every
    // operation has completed. Idempotent.
    void close() const noexcept;

    [[nodiscard]] bool is_open() const noexcept;
    // The bound address, with the real port when 0 was asked for.
    [[nodiscard]] endpoint local_endpoint() const noexcept;
    [[nodiscard]] datagram_statistics stats() const noexcept;

    explicit operator bool() const noexcept { return impl_ != nullptr; }
    friend bool operator==(const datagram_socket& a, const datagram_socket& b) noexcept { return a.impl_ == b.impl_; }

private:
    std::shared_ptr<detail::datagram_impl> impl_;
};

}  // namespace wire
