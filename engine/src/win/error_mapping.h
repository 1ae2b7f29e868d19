#pragma once
// The one mapping from Win32/NTSTATUS/Winsock failures to the engine's std::error_codes.
#include "win/winsock.h"

#include <system_error>

namespace wire::detail {

// Win32 error of a dequeued completion, from the NTSTATUS the kernel left in OVERLAPPED::Internal.
[[nodiscard]] DWORD completion_error(const OVERLAPPED& overlapped) noexcept;

// A Win32 or Winsock error as the engine reports it:
// - the Win32 spellings of socket failures become their Winsock values (ERROR_NETNAME_DELETED,
//   which IOCP reports for a reset, becomes WSAECONNRESET; ERROR_CONNECTION_REFUSED WSAECONNREFUSED...);
// - cancellation and closed handles (995, 676, 6 and WSA_OPERATION_ABORTED) become error::aborted:
//   they only happen after this side closed, and the caller substitutes its recorded reason.
[[nodiscard]] std::error_code to_error_code(DWORD error) noexcept;

[[nodiscard]] inline std::error_code last_socket_error() noexcept {
    return to_error_code(static_cast<DWORD>(::WSAGetLastError()));
}

}  // namespace wire::detail
