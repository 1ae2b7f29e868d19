#pragma once
// Conversions between wire::endpoint and Winsock's sockaddr, and socket set-up helpers shared by
// the listener and the connector.
#include <wire/endpoint.h>

#include "win/unique_socket.h"
#include "win/winsock.h"

#include <system_error>

namespace wire::detail {

[[nodiscard]] inline const sockaddr* as_sockaddr(const endpoint& e) noexcept {
    return reinterpret_cast<const sockaddr*>(e.data());
}

[[nodiscard]] endpoint to_endpoint(const sockaddr* address, int length) noexcept;

[[nodiscard]] endpoint local_endpoint_of(SOCKET s) noexcept;
[[nodiscard]] endpoint remote_endpoint_of(SOCKET s) noexcept;

// A new overlapped TCP socket of the endpoint's family. Empty with `error` set on failure.
[[nodiscard]] unique_socket make_tcp_socket(bool ipv6, std::error_code& error) noexcept;

// TCP_NODELAY: the engine gathers its own writes, so Nagle's delay only adds latency.
void set_no_delay(SOCKET s) noexcept;
// Whether TCP_NODELAY is on for `s` (false when the query fails).
[[nodiscard]] bool has_no_delay(SOCKET s) noexcept;

}  // namespace wire::detail
