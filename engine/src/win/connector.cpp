#include "win/connector.h"

#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/socket_pool.h"
#include "win/system_calls.h"

namespace wire::detail {

connector::connector(const connection_context& context, connection_impl& owner, operation::complete_fn on_complete) noexcept
    : context_(context), op_(owner, on_complete) {}

DWORD connector::prepare_new_socket(bool ipv6) noexcept {
    std::error_code ec;
    socket_ = make_tcp_socket(ipv6, ec);
    if (!ec) {
        ec = context_.port.associate(socket_.get(), completion_port::socket_kind::stream, skips_port_);
    }
    if (!ec) {
        // ConnectEx needs a bound socket.
        const endpoint any = ipv6 ? endpoint::any_v6(0) : endpoint::any_v4(0);
        if (sys().bind(socket_.get(), as_sockaddr(any), any.size()) == SOCKET_ERROR) {
            ec = last_socket_error();
        }
    }
    if (ec) {
        socket_.reset();
        // Keep a Winsock/Win32 number: the completion maps it again.
        return ec.category() == std::system_category() ? static_cast<DWORD>(ec.value()) : static_cast<DWORD>(WSAENOTSOCK);
    }
    set_no_delay(socket_.get());
    return ERROR_SUCCESS;
}

DWORD connector::issue(const endpoint& remote, bool allow_recycled, WSABUF first_data) noexcept {
    const bool ipv6 = remote.is_v6();
    for (;;) {
        recycled_ = false;
        std::optional<pooled_socket> pooled;
        if (allow_recycled) {
            pooled = context_.sockets.take(ipv6, reuse_use::connect);
        }
        if (pooled) {
            socket_ = std::move(pooled->socket);
            skips_port_ = pooled->skips_port;
            recycled_ = true;  // still bound and on the port
        } else if (const DWORD error = prepare_new_socket(ipv6); error != ERROR_SUCCESS) {
            return error;
        }
        socket_value_.store(socket_.get());
        op_.reset_overlapped();
        DWORD sent = 0;
        // Without skip-on-success the completion may be running on a worker once the call returns
        // (it may re-issue and so rewrite the members): only locals after the call.
        const bool skips_port = skips_port_;
        if (context_.extensions.connect_ex(socket_.get(), as_sockaddr(remote), remote.size(), first_data.buf,
                                           first_data.len, &sent, &op_) != FALSE) {
            if (skips_port) {
                context_.port.post(op_, ERROR_SUCCESS, sent);  // on_open runs on a worker, not here
            }
            return ERROR_SUCCESS;
        }
        const int error = ::WSAGetLastError();
        if (error == ERROR_IO_PENDING) {
            return ERROR_SUCCESS;
        }
        if (!recycled_) {
            return static_cast<DWORD>(error);
        }
        // The failure may be the reuse itself (Wine 8: WSAEISCONN): this socket is lost, the
        // feature is judged by the pool, and this connect goes on with a new socket.
        context_.sockets.report(reuse_use::connect, false);
        discard();
    }
}

std::error_code connector::finish(unique_socket& out, bool& skips_port) noexcept {
    if (sys().setsockopt(socket_.get(), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) == SOCKET_ERROR) {
        return last_socket_error();
    }
    if (recycled_) {
        context_.sockets.report(reuse_use::connect, true);
        engine_counters::add(context_.counters->sockets_reused);
    }
    skips_port = skips_port_;
    socket_value_.store(INVALID_SOCKET);
    out = std::move(socket_);
    return {};
}

void connector::discard() noexcept {
    socket_value_.store(INVALID_SOCKET);
    socket_.reset();
}

void connector::cancel() noexcept {
    if (const SOCKET s = socket_value_.load(); s != INVALID_SOCKET) {
        sys().cancel_io_ex(reinterpret_cast<HANDLE>(s), &op_);
    }
}

}  // namespace wire::detail
