#pragma once
// The one mapping from Win32/NTSTATUS/Winsock failures to the engine's std::error_codes.
#include "win/winsock.h"

#include <system_error>

namespace wire::detail {

// Win32 error of a dequeued completion, from the NTSTATUS the kernel left in OVERLAPPED::Internal.
[[nodiscard]] DWORD completion_error(const OVERLAPPED& overlapped) noexcept;

// Who ended an operation that failed. IOCP reports ERROR_NETNAME_DELETED (64) both for a reset
// from the peer and for an operation cut short because this side closed or cancelled the socket;
// only the caller knows which (Asio makes the same distinction in win_iocp_socket_service).
enum class cancellation : bool {
    not_by_engine = false,  // nothing on this side closed or cancelled the socket
    by_engine = true,       // the engine had closed, cancelled (CancelIoEx) or reset the socket
};

// A Win32 or Winsock error as the engine reports it:
// - success is the empty error_code;
// - cancellation and closed handles (995 ERROR_OPERATION_ABORTED == WSA_OPERATION_ABORTED,
//   1235 ERROR_REQUEST_ABORTED, 676 ERROR_HANDLES_CLOSED (Wine), 6 ERROR_INVALID_HANDLE,
//   WSAENOTSOCK, WSAEINTR) become error::aborted: they only happen after this side closed, and
//   the caller substitutes its recorded reason;
// - a reset (64 ERROR_NETNAME_DELETED, 10054 WSAECONNRESET) is WSAECONNRESET, or error::aborted
//   when `who` is cancellation::by_engine (the reset is then our own close seen by the operation);
// - an abort the local stack reports for the peer or the network (1236 ERROR_CONNECTION_ABORTED,
//   10053) is WSAECONNABORTED whoever cancelled: the engine's own cancels complete with 995/64;
// - the end of the peer's stream as an error (38 ERROR_HANDLE_EOF, 1226 ERROR_GRACEFUL_DISCONNECT,
//   10101 WSAEDISCON) is error::end_of_stream, as a zero-byte receive is;
// - the other Win32 spellings of socket failures become their Winsock values (timeouts
//   121/258 -> 10060, refusal 1225 -> 10061, unreachable 1231 -> 10051 and 1232 -> 10065,
//   no resources 1450 -> 10055...); anything else passes through in std::system_category().
[[nodiscard]] std::error_code to_error_code(DWORD error, cancellation who) noexcept;

// The same for callers that have not recorded a cancel of their own: cancellation::not_by_engine.
[[nodiscard]] inline std::error_code to_error_code(DWORD error) noexcept {
    return to_error_code(error, cancellation::not_by_engine);
}

[[nodiscard]] inline std::error_code last_socket_error() noexcept {
    return to_error_code(static_cast<DWORD>(::WSAGetLastError()));
}

}  // namespace wire::detail
