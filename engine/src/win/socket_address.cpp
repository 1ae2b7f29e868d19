#include "win/socket_address.h"

#include "win/error_mapping.h"
#include "win/system_calls.h"

#include <algorithm>
#include <cstring>

namespace wire::detail {

endpoint to_endpoint(const sockaddr* address, int length) noexcept {
    endpoint e;
    if (address != nullptr && length > 0) {
        const auto size = std::min<std::size_t>(static_cast<std::size_t>(length), endpoint::capacity);
        std::memcpy(e.data(), address, size);
    }
    return e;
}

endpoint local_endpoint_of(SOCKET s) noexcept {
    sockaddr_storage storage{};
    int length = sizeof(storage);
    if (sys().getsockname(s, reinterpret_cast<sockaddr*>(&storage), &length) == SOCKET_ERROR) {
        return {};
    }
    return to_endpoint(reinterpret_cast<const sockaddr*>(&storage), length);
}

endpoint remote_endpoint_of(SOCKET s) noexcept {
    sockaddr_storage storage{};
    int length = sizeof(storage);
    if (sys().getpeername(s, reinterpret_cast<sockaddr*>(&storage), &length) == SOCKET_ERROR) {
        return {};
    }
    return to_endpoint(reinterpret_cast<const sockaddr*>(&storage), length);
}

unique_socket make_tcp_socket(bool ipv6, std::error_code& error) noexcept {
    unique_socket s(sys().wsa_socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                                 WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT));
    error = s ? std::error_code{} : last_socket_error();
    return s;
}

void set_no_delay(SOCKET s) noexcept {
    const BOOL on = TRUE;
    // Best effort: a connection without TCP_NODELAY is slower, not broken.
    sys().setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&on), sizeof(on));
}

bool set_exclusive_address_use(SOCKET s) noexcept {
    const BOOL on = TRUE;
    return sys().setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&on), sizeof(on)) == 0;
}

bool has_exclusive_address_use(SOCKET s) noexcept {
    DWORD value = 0;  // zeroed: Wine writes a single byte for boolean options
    int length = static_cast<int>(sizeof(value));
    return sys().getsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<char*>(&value), &length) == 0 &&
           value != 0;
}

bool has_no_delay(SOCKET s) noexcept {
    DWORD value = 0;  // zeroed: Wine writes a single byte for boolean options
    int length = static_cast<int>(sizeof(value));
    return sys().getsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<char*>(&value), &length) == 0 && value != 0;
}

}  // namespace wire::detail
