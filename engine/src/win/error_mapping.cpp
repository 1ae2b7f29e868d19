#include "win/error_mapping.h"

#include <wire/error.h>

namespace wire::detail {

namespace {

// Wine completes a receive pending on a socket closed under it with this; older SDK headers lack it.
constexpr DWORD error_handles_closed = 676;

using rtl_nt_status_to_dos_error = ULONG(WINAPI*)(LONG status);

rtl_nt_status_to_dos_error load_status_converter() noexcept {
    const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
    if (ntdll == nullptr) {
        return nullptr;
    }
    // Through the generic function-pointer type: converting FARPROC directly draws
    // -Wcast-function-type, and this is the documented way to call an exported function.
    const auto generic = reinterpret_cast<void (*)()>(::GetProcAddress(ntdll, "RtlNtStatusToDosError"));
    return reinterpret_cast<rtl_nt_status_to_dos_error>(generic);
}

}  // namespace

DWORD completion_error(const OVERLAPPED& overlapped) noexcept {
    const auto status = static_cast<LONG>(overlapped.Internal);
    if (status == 0) {
        return ERROR_SUCCESS;
    }
    static const rtl_nt_status_to_dos_error convert = load_status_converter();
    return convert != nullptr ? static_cast<DWORD>(convert(status)) : static_cast<DWORD>(ERROR_GEN_FAILURE);
}

std::error_code to_error_code(DWORD error, cancellation who) noexcept {
    switch (error) {
    case ERROR_SUCCESS:
        return {};
    case ERROR_OPERATION_ABORTED:  // == WSA_OPERATION_ABORTED
    case ERROR_REQUEST_ABORTED:    // 1235: the request was aborted (a cancelled or closed handle)
    case error_handles_closed:
    case ERROR_INVALID_HANDLE:
    case WSAENOTSOCK:
    case WSAEINTR:
        return make_error_code(error::aborted);
    case ERROR_NETNAME_DELETED:
    case WSAECONNRESET:
        if (who == cancellation::by_engine) {
            return make_error_code(error::aborted);  // our own close, not the peer's reset
        }
        return {WSAECONNRESET, std::system_category()};
    case ERROR_CONNECTION_REFUSED:
    case ERROR_PORT_UNREACHABLE:
        return {WSAECONNREFUSED, std::system_category()};
    case ERROR_CONNECTION_ABORTED:
        return {WSAECONNABORTED, std::system_category()};
    case ERROR_SEM_TIMEOUT:
    case WAIT_TIMEOUT:
        return {WSAETIMEDOUT, std::system_category()};
    case ERROR_NETWORK_UNREACHABLE:
        return {WSAENETUNREACH, std::system_category()};
    case ERROR_HOST_UNREACHABLE:
        return {WSAEHOSTUNREACH, std::system_category()};
    case ERROR_CONNECTION_INVALID:  // 1229
        return {WSAENOTCONN, std::system_category()};
    case ERROR_CONNECTION_ACTIVE:  // 1230: Wine's EISCONN
        return {WSAEISCONN, std::system_category()};
    case ERROR_NO_DATA:  // 232: Wine's ESHUTDOWN
        return {WSAESHUTDOWN, std::system_category()};
    case ERROR_HANDLE_EOF:           // 38
    case ERROR_GRACEFUL_DISCONNECT:  // 1226
    case WSAEDISCON:
        return make_error_code(error::end_of_stream);
    case ERROR_DUP_NAME:  // 52
    case ERROR_SHARING_VIOLATION:  // 32: Wine's EADDRINUSE
        return {WSAEADDRINUSE, std::system_category()};
    case ERROR_NETWORK_BUSY:  // 54: Wine's ENETDOWN
        return {WSAENETDOWN, std::system_category()};
    case ERROR_NO_SYSTEM_RESOURCES:  // 1450
        return {WSAENOBUFS, std::system_category()};
    case ERROR_INVALID_NETNAME:  // 1214
        return {WSAEADDRNOTAVAIL, std::system_category()};
    default:
        return {static_cast<int>(error), std::system_category()};
    }
}

}  // namespace wire::detail
