#pragma once
// A connection's connect side: the socket it connects (recycled from the pool where the platform
// allows it, otherwise new, bound and associated with the port) and the ConnectEx operation.
//
// Ownership: the socket belongs to the connector until the connect has succeeded, then moves to
// the connection (take_socket). Only the connect path touches it; a closer on another thread
// cancels through socket_value_ and the operation's name, which cannot touch another object's I/O
// even if that socket was closed and its handle value reused meanwhile.
#include <wire/endpoint.h>

#include "win/connection_context.h"
#include "win/operation.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <atomic>

namespace wire::detail {

class connection_impl;

class connector {
public:
    connector(const connection_context& context, connection_impl& owner, operation::complete_fn on_complete) noexcept;
    connector(const connector&) = delete;
    connector& operator=(const connector&) = delete;

    // Issues ConnectEx to `remote`, on a recycled socket when `allow_recycled` and the pool has
    // one, else on a new one. Returns ERROR_SUCCESS when a completion will be dequeued (a
    // synchronous success is posted), or the Win32/Winsock error of an immediate failure.
    // `first_data` (may be empty) rides in ConnectEx's send buffer: the completion's byte count says
    // how much of it left. It must stay valid until the connect completes (the sender's queue
    // keeps its blocks in place).
    [[nodiscard]] DWORD issue(const endpoint& remote, bool allow_recycled, WSABUF first_data) noexcept;
    // The outstanding or last attempt used a recycled socket.
    [[nodiscard]] bool used_recycled() const noexcept { return recycled_; }
    // Completes a successful connect (SO_UPDATE_CONNECT_CONTEXT) and hands the socket over.
    // Returns the error when the socket cannot be made usable.
    [[nodiscard]] std::error_code finish(unique_socket& out, bool& skips_port) noexcept;
    // Closes the socket of a failed attempt (nothing is outstanding on it).
    void discard() noexcept;
    void cancel() noexcept;

    [[nodiscard]] operation& op() noexcept { return op_; }

private:
    [[nodiscard]] DWORD prepare_new_socket(bool ipv6) noexcept;

    const connection_context& context_;
    owned_operation<connection_impl> op_;
    unique_socket socket_;
    std::atomic<SOCKET> socket_value_{INVALID_SOCKET};  // for cancel() from other threads
    bool skips_port_ = false;
    bool recycled_ = false;
};

}  // namespace wire::detail
