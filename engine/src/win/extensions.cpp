#include "win/extensions.h"

#include "win/system_calls.h"
#include "win/unique_socket.h"

#include <memory>
#include <vector>

namespace wire::detail {

namespace {

template <typename Function>
void load_function(SOCKET s, GUID guid, Function& target, const char* name) {
    DWORD bytes = 0;
    if (sys().wsa_ioctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), &target, sizeof(target), &bytes,
                   nullptr, nullptr) == SOCKET_ERROR) {
        throw std::system_error(::WSAGetLastError(), std::system_category(), name);
    }
}

}  // namespace

extension_functions extension_functions::load() {
    const unique_socket probe(sys().wsa_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED));
    if (!probe) {
        throw std::system_error(::WSAGetLastError(), std::system_category(), "WSASocket");
    }
    extension_functions f;
    load_function(probe.get(), WSAID_ACCEPTEX, f.accept_ex, "AcceptEx");
    load_function(probe.get(), WSAID_GETACCEPTEXSOCKADDRS, f.get_accept_ex_sockaddrs, "GetAcceptExSockaddrs");
    load_function(probe.get(), WSAID_CONNECTEX, f.connect_ex, "ConnectEx");
    load_function(probe.get(), WSAID_DISCONNECTEX, f.disconnect_ex, "DisconnectEx");
    return f;
}

bool tcp_providers_are_ifs() noexcept {
    DWORD size = 0;
    if (sys().wsa_enum_protocols(nullptr, nullptr, &size) != SOCKET_ERROR || ::WSAGetLastError() != WSAENOBUFS) {
        return false;
    }
    std::vector<std::byte> storage(size);
    auto* protocols = reinterpret_cast<WSAPROTOCOL_INFOW*>(storage.data());
    const int count = sys().wsa_enum_protocols(nullptr, protocols, &size);
    if (count == SOCKET_ERROR) {
        return false;
    }
    for (int i = 0; i < count; ++i) {
        const WSAPROTOCOL_INFOW& p = protocols[i];
        if (p.iSocketType == SOCK_STREAM && p.iProtocol == IPPROTO_TCP && (p.dwServiceFlags1 & XP1_IFS_HANDLES) == 0) {
            return false;
        }
    }
    return true;
}

}  // namespace wire::detail
