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

// SO_EXCLUSIVEADDRUSE, for a listening socket before bind: no other socket may then bind the same
// address and port, not even with SO_REUSEADDR. Microsoft's guidance for servers ("Using
// SO_REUSEADDR and SO_EXCLUSIVEADDRUSE", https://learn.microsoft.com/en-us/windows/win32/winsock/
// using-so-reuseaddr-and-so-exclusiveaddruse): without it another process can bind the port of a
// listening server and take its connections (port hijacking). Returns false where the platform
// refuses the option; the caller then carries on: the listener still works, with the platform's
// default sharing rules, and no platform that lacks the option has the hijack it prevents (Wine
// maps sockets to Linux ones, where SO_REUSEADDR never lets a second socket bind a listening
// port). The cost the guidance names: after a restart, bind fails while connections of the old
// socket linger in TIME_WAIT on that port.
[[nodiscard]] bool set_exclusive_address_use(SOCKET s) noexcept;
// Whether SO_EXCLUSIVEADDRUSE is on for `s` (false when the query fails).
[[nodiscard]] bool has_exclusive_address_use(SOCKET s) noexcept;

}  // namespace wire::detail
