#pragma once
// A listening socket that keeps `pending_accepts` AcceptEx calls posted and re-posts each one as
// it completes, whatever the outcome, so accept capacity is never lost to an error.
//
// Ownership: the accept operations are heap objects owned by ops_ (fixed at open, never resized,
// so their OVERLAPPEDs never move). The engine's registry holds the listener until it is closed
// and has finalized; the user's wire::listener holds it too, and may outlive the engine.
//
// Teardown follows win/teardown.h: teardown_ counts each accept issued and not yet handled and
// each call in flight; the listening socket closes as soon as no call uses it after close() (at
// once, usually, so the port stops accepting when close() returns), and the accept sockets when
// nothing is left, from a packet on a worker. close() cancels accepts by name (CancelIoEx with
// the operation's OVERLAPPED), which cannot touch another object's I/O.
//
// Locking: mutex_ guards teardown_ and the failure reports; no system call is made under it.
#include <wire/endpoint.h>
#include <wire/options.h>

#include "win/connection_context.h"
#include "core/slim_mutex.h"
#include "win/operation.h"
#include "win/teardown.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace wire::detail {

struct accepted_socket;

class listener_impl : public std::enable_shared_from_this<listener_impl> {
public:
    listener_impl(const connection_context& context, handler_factory factory, listen_options options);
    ~listener_impl();
    listener_impl(const listener_impl&) = delete;
    listener_impl& operator=(const listener_impl&) = delete;

    // Creates, binds and listens. Set-up: called once, before start().
    [[nodiscard]] std::error_code open(const endpoint& local);
    // Posts the accepts. Synchronous completions are posted to a worker, never handled here.
    void start() noexcept;
    void close() noexcept;
    [[nodiscard]] endpoint local_endpoint() const noexcept { return local_; }

private:
    using lock_type = std::unique_lock<slim_mutex>;
    // AcceptEx wants room for each address plus 16 bytes.
    static constexpr DWORD address_length = sizeof(sockaddr_in6) + 16;

    struct accept_operation : owned_operation<listener_impl> {
        explicit accept_operation(listener_impl& l) noexcept : owned_operation(l, &on_accept) {}
        unique_socket socket;  // the socket AcceptEx connects; only the accept path touches it
        std::atomic<SOCKET> socket_value{INVALID_SOCKET};  // for close() to cancel by name
        bool recycled = false;  // socket came from the pool: already on the port
        bool skips_port = false;
        std::array<std::byte, 2 * address_length> addresses{};
    };

    static void on_accept(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_finalize(operation& op, DWORD error, DWORD bytes) noexcept;
    void accept_loop(accept_operation& op, DWORD error) noexcept;
    // Issues AcceptEx (without the lock). Returns true when it finished at once (then `error`
    // holds the outcome and no packet will arrive), false when a completion will be dequeued.
    [[nodiscard]] bool issue_accept(accept_operation& op, DWORD& error) noexcept;
    // After an AcceptEx went pending: if close() ran meanwhile it may have missed it.
    void cancel_if_closed(lock_type& lock, accept_operation& op) noexcept;
    [[nodiscard]] bool take_accepted(accept_operation& op, accepted_socket& out) noexcept;
    // Running out (see engine_options::on_accept_failure): counts and reports the failure, and
    // re-issues `op` after the current back-off instead of at once.
    void back_off(accept_operation& op, DWORD error) noexcept;
    // `associated`: the socket is on the port already (it was recycled).
    void hand_over(accepted_socket accepted, bool associated) noexcept;
    void reject(unique_socket& socket, const endpoint& remote, std::error_code reason) noexcept;
    // Takes a unit for a call made without the lock; false once closed.
    [[nodiscard]] bool begin_issue(lock_type& lock) noexcept;
    // Ends it: the last one after close() closes the listening socket. Unlocks.
    void finish_issue(lock_type& lock) noexcept;
    // Ends a unit; the last one after close() posts the teardown (on_finalize). Unlocks, then
    // closes `closing` (the listening socket finish_issue took) before posting.
    void finish_operation(lock_type& lock, unique_socket closing = {}) noexcept;
    void finalize() noexcept;

    const connection_context& context_;
    handler_factory factory_;
    listen_options options_;
    endpoint local_;
    bool ipv6_ = false;
    unique_socket socket_;  // set by open(); closed once closed and no call uses it
    bool skips_port_ = false;
    // Whether accepted sockets inherit TCP_NODELAY from the listening socket (it is set there):
    // learnt from the first accepted connection, so later ones skip one setsockopt each.
    enum class inheritance : int { unknown, inherited, not_inherited };
    std::atomic<inheritance> no_delay_inherited_{inheritance::unknown};
    std::vector<std::unique_ptr<accept_operation>> ops_;
    std::atomic<long long> backoff_ms_{0};  // 0 after a success; else the next retry's delay

    slim_mutex mutex_;
    teardown_count teardown_{context_.counters->operations_pending};
    owned_operation<listener_impl> finalize_op_{*this, &on_finalize};
    std::uint64_t unreported_failures_ = 0;  // since the last on_accept_failure report
    std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace wire::detail
