#pragma once
// Winsock extension functions, loaded once per engine through SIO_GET_EXTENSION_FUNCTION_POINTER.
#include "win/winsock.h"

#include <system_error>

namespace wire::detail {

struct extension_functions {
    LPFN_ACCEPTEX accept_ex = nullptr;
    LPFN_GETACCEPTEXSOCKADDRS get_accept_ex_sockaddrs = nullptr;
    LPFN_CONNECTEX connect_ex = nullptr;
    LPFN_DISCONNECTEX disconnect_ex = nullptr;

    // Throws std::system_error when a function cannot be loaded (set-up only).
    static extension_functions load();
};

// True when every TCP base provider is an IFS provider: only then may completions skip the port
// (a non-IFS layered provider can complete a request without the kernel seeing it).
[[nodiscard]] bool tcp_providers_are_ifs() noexcept;

}  // namespace wire::detail
