#pragma once
// A UDP socket on the completion port: pending_receives WSARecvFrom kept posted, WSASendTo per
// datagram, a cap on the bytes in flight, and one way down (close: cancel, drain, on_close once).
//
// Ownership: the receive operations are heap objects owned by receives_ (fixed at open, never
// resized, so their OVERLAPPEDs never move); each send is a heap operation owned by whoever holds
// it: the socket's spare list, the caller of send_to while it fills it, or the kernel while its
// WSASendTo is pending (recovered from the dequeued OVERLAPPED, then returned to the spares). The
// engine's datagram_registry holds the socket until it finalizes; user handles may hold it longer,
// even past the engine: after finalizing it touches nothing of the engine.
//
// Teardown follows win/teardown.h: teardown_ counts each operation issued and not yet handled and
// each call in flight; the handle closes as soon as no call uses it after close(), and the socket
// finalizes (on_close, then leaves the registry) from a packet on a worker when nothing is left.
//
// Locking: mutex_ guards teardown_, in_flight_bytes_ and the spare sends; no system call is made
// under it.
// A receive's completion is handled by one worker at a time (its own OVERLAPPED), so a receive
// operation's buffer and address need no lock; different receives run in parallel.
#include <wire/datagram.h>
#include <wire/endpoint.h>

#include "core/buffer_pool.h"
#include "win/connection_context.h"
#include "core/slim_mutex.h"
#include "win/operation.h"
#include "win/teardown.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <gsl/span>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace wire::detail {

class datagram_registry;

class datagram_impl : public std::enable_shared_from_this<datagram_impl> {
public:
    // The largest UDP payload (IPv6: 65535 - 8; IPv4's 65507 is smaller still).
    static constexpr std::size_t max_payload = 65'527;

    datagram_impl(const connection_context& context, datagram_registry& registry,
                  std::unique_ptr<datagram_handler> handler, datagram_options options);
    ~datagram_impl();
    datagram_impl(const datagram_impl&) = delete;
    datagram_impl& operator=(const datagram_impl&) = delete;

    // Creates, configures and binds the socket and joins the port. Set-up: once, before start().
    [[nodiscard]] std::error_code open(const endpoint& local);
    // Posts the receives. Synchronous completions are posted to a worker, never handled here.
    void start() noexcept;
    // Closes with `reason` (empty: the user's close). Idempotent; never blocks.
    void close(std::error_code reason) noexcept;

    [[nodiscard]] std::error_code send_to(const endpoint& to, gsl::span<const std::byte> data) noexcept;
    [[nodiscard]] bool is_open() const noexcept;
    [[nodiscard]] endpoint local_endpoint() const noexcept { return local_; }
    [[nodiscard]] datagram_statistics stats() const noexcept;
    [[nodiscard]] bool connection_reset_off() const noexcept { return connreset_off_; }
    [[nodiscard]] SOCKET native_socket() const noexcept { return socket_.get(); }  // open(): for the probe

private:
    using lock_type = std::unique_lock<slim_mutex>;
    // Send operations kept for reuse (with their payload capacity): enough for a pipeline of
    // datagrams without an allocation each; beyond it they are freed.
    static constexpr std::size_t max_spare_sends = 64;

    struct receive_operation : owned_operation<datagram_impl> {
        explicit receive_operation(datagram_impl& d) noexcept : owned_operation(d, &on_receive) {}
        buffer_pool::buffer buffer;  // at least max_datagram_size bytes, from buffers_ or owned
        sockaddr_storage from{};              // written by the kernel when the receive completes
        INT from_length = 0;
        DWORD flags = 0;
    };

    struct send_operation : owned_operation<datagram_impl> {
        explicit send_operation(datagram_impl& d) noexcept : owned_operation(d, &on_send) {}
        std::vector<std::byte> payload;  // keeps its capacity between uses
        endpoint to;
    };

    struct counters {
        using counter = std::atomic<std::uint64_t>;
        counter datagrams_received{0}, bytes_received{0}, datagrams_sent{0}, bytes_sent{0};
        counter datagrams_truncated{0}, receive_errors{0}, sends_refused{0}, send_failures{0};
        counter receive_calls{0}, send_calls{0}, completions_inline{0};
    };

    static void on_receive(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_send(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_finalize(operation& op, DWORD error, DWORD bytes) noexcept;

    // Receive path (datagram_io.cpp): handles one outcome, re-issues, and goes on inline while
    // receives finish at once (after max_inline_completions in a row, yields to the port when
    // completion_port::should_yield says other work may be waiting).
    void receive_loop(receive_operation& op, DWORD error, DWORD bytes) noexcept;
    // Issues WSARecvFrom without the lock. True when it finished at once (outcome in error/bytes,
    // no packet will be dequeued).
    [[nodiscard]] bool issue_receive(receive_operation& op, DWORD& error, DWORD& bytes) noexcept;
    // What one finished receive means: delivered, truncated, survived, or the end of the socket
    // (returns false, with the reason for an error that is not our own close).
    [[nodiscard]] bool handle_received(receive_operation& op, DWORD error, DWORD bytes, std::error_code& fatal) noexcept;
    void finish_send(send_operation& op, DWORD error, DWORD bytes) noexcept;

    // Takes a unit for a call made without the lock; false once closing.
    [[nodiscard]] bool begin_issue(lock_type& lock) noexcept;
    // Ends it: the last one after close() closes the handle. Unlocks.
    void finish_issue(lock_type& lock) noexcept;
    // Ends a unit; the last one after close() posts finalize (on_finalize). Unlocks, then closes
    // `closing` (the handle finish_issue took).
    void finish_operation(lock_type& lock, unique_socket closing = {}) noexcept;
    void finalize() noexcept;
    // Gives the receive buffers back to the engine's pool (once nothing is outstanding).
    void release_buffers() noexcept;

    const connection_context& context_;
    datagram_registry& registry_;
    const std::shared_ptr<engine_counters> engine_counters_;  // outlives the engine if a handle does
    std::unique_ptr<datagram_handler> handler_;
    const datagram_options options_;
    endpoint local_;
    bool ipv6_ = false;
    bool connreset_off_ = false;
    unique_socket socket_;  // set by open(); closed once closing and no call uses it
    std::atomic<SOCKET> socket_value_{INVALID_SOCKET};  // for cancels by name; INVALID once closed
    std::vector<std::unique_ptr<receive_operation>> receives_;
    // The engine's pool the receive buffers come from: the TCP receive pool whose buffers are large
    // enough (16 KiB, or the 64 KiB bulk pool by default), so sockets and connections share spares
    // and a closed socket's buffers serve the next; nullptr when none is (own allocation).
    buffer_pool* buffers_ = nullptr;
    counters counters_;

    mutable slim_mutex mutex_;
    teardown_count teardown_{engine_counters_->operations_pending};
    owned_operation<datagram_impl> finalize_op_{*this, &on_finalize};
    std::error_code reason_;
    std::size_t in_flight_bytes_ = 0;
    std::vector<std::unique_ptr<send_operation>> spare_sends_;  // at most max_spare_sends
};

}  // namespace wire::detail
