#pragma once
// A listening socket that keeps `pending_accepts` AcceptEx calls posted and re-posts each one as
// it completes, whatever the outcome, so accept capacity is never lost to an error.
//
// Ownership: the accept operations are heap objects owned by ops_ (fixed at start, never resized,
// so their OVERLAPPEDs never move). The engine's registry holds the listener until it is closed
// and pending_ (accepts issued and not yet handled) is zero; the user's wire::listener holds it too.
#include <wire/endpoint.h>
#include <wire/options.h>

#include "win/operation.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace wire::detail {

class engine_core;

class listener_impl : public std::enable_shared_from_this<listener_impl> {
public:
    listener_impl(std::shared_ptr<engine_core> engine, handler_factory factory, listen_options options);
    ~listener_impl();
    listener_impl(const listener_impl&) = delete;
    listener_impl& operator=(const listener_impl&) = delete;

    // Creates, binds and listens. Set-up: called once, before start().
    [[nodiscard]] std::error_code open(const endpoint& local);
    // Posts the accepts. Synchronous completions are posted to a worker, never handled here.
    void start();
    void close() noexcept;
    [[nodiscard]] endpoint local_endpoint() const noexcept { return local_; }

private:
    using lock_type = std::unique_lock<std::mutex>;
    // AcceptEx wants room for each address plus 16 bytes.
    static constexpr DWORD address_length = sizeof(sockaddr_in6) + 16;

    struct accept_operation : operation {
        explicit accept_operation(listener_impl& l) noexcept : operation(&on_accept), owner(&l) {}
        listener_impl* owner;
        unique_socket socket;  // the socket AcceptEx connects; handed to the new connection
        bool recycled = false;  // socket came from the pool: already on the port
        bool skips_port = false;
        std::array<std::byte, 2 * address_length> addresses{};
    };

    static void on_accept(operation& op, DWORD error, DWORD bytes) noexcept;
    void accept_loop(accept_operation& op, DWORD error) noexcept;
    // Issues AcceptEx. Returns true when it finished at once (then `error` holds the outcome and
    // no packet will arrive), false when a completion will be dequeued.
    [[nodiscard]] bool issue_accept(accept_operation& op, DWORD& error) noexcept;
    void retry_later(accept_operation& op) noexcept;
    void hand_over(unique_socket socket, bool recycled, bool skips_port, const endpoint& local,
                   const endpoint& remote) noexcept;
    void finish_operation(lock_type& lock) noexcept;

    std::shared_ptr<engine_core> engine_;
    handler_factory factory_;
    listen_options options_;
    endpoint local_;
    bool ipv6_ = false;

    std::mutex mutex_;  // guards socket_, closed_, pending_ and the Winsock calls on socket_
    unique_socket socket_;
    bool skips_port_ = false;
    // Whether accepted sockets inherit TCP_NODELAY from the listening socket (it is set there):
    // learnt from the first accepted connection, so later ones skip one setsockopt each.
    enum class inheritance : int { unknown, inherited, not_inherited };
    std::atomic<inheritance> no_delay_inherited_{inheritance::unknown};
    bool closed_ = false;
    unsigned pending_ = 0;
    std::vector<std::unique_ptr<accept_operation>> ops_;
};

}  // namespace wire::detail
