#pragma once
// The system-call seam: every Winsock, completion-port and extension-function call the engine
// makes goes through this table, so that a test can replace it (tests/fault_platform.h) to fail
// calls with real Windows error codes or to play Windows behaviour Wine lacks. Failures are
// reported the Windows way (the function's failure return plus WSASetLastError/SetLastError), so
// the engine reads errors exactly as it does from the system.
//
// Production pays one load of the table pointer and one indirect call per system call. The
// extension functions (AcceptEx, ConnectEx, DisconnectEx, GetAcceptExSockaddrs) are loaded
// through wsa_ioctl, so a replacement table supplies its own versions by answering
// SIO_GET_EXTENSION_FUNCTION_POINTER.
#include "win/winsock.h"

namespace wire::detail {

struct system_calls {
    decltype(&::WSAStartup) wsa_startup;
    decltype(&::WSACleanup) wsa_cleanup;
    decltype(&::WSASocketW) wsa_socket;
    decltype(&::bind) bind;
    decltype(&::listen) listen;
    decltype(&::setsockopt) setsockopt;
    decltype(&::getsockopt) getsockopt;
    decltype(&::getsockname) getsockname;
    decltype(&::getpeername) getpeername;
    decltype(&::shutdown) shutdown;
    decltype(&::closesocket) closesocket;
    decltype(&::WSARecv) wsa_recv;
    decltype(&::WSASend) wsa_send;
    decltype(&::WSAIoctl) wsa_ioctl;
    decltype(&::WSAEnumProtocolsW) wsa_enum_protocols;
    decltype(&::CreateIoCompletionPort) create_io_completion_port;
    decltype(&::SetFileCompletionNotificationModes) set_file_completion_notification_modes;
    decltype(&::PostQueuedCompletionStatus) post_queued_completion_status;
    decltype(&::GetQueuedCompletionStatusEx) get_queued_completion_status_ex;
    decltype(&::CancelIoEx) cancel_io_ex;
    // Receive buffers' memory (engine_core's page allocator), so tests can make it run out.
    decltype(&::VirtualAlloc) virtual_alloc;
    decltype(&::VirtualFree) virtual_free;
    // The workers' precise timers (win/deadline_watch.h).
    decltype(&::CreateWaitableTimerExW) create_waitable_timer_ex;
    decltype(&::SetWaitableTimer) set_waitable_timer;
    // Host names (win/name_resolution.h).
    decltype(&::GetAddrInfoExW) get_addr_info_ex;
    decltype(&::FreeAddrInfoExW) free_addr_info_ex;
    // Not declared by every SDK's headers (MinGW's lack it): found in ws2_32 at run time.
    INT(WSAAPI* get_addr_info_ex_cancel)(LPHANDLE handle);
    decltype(&::GetAddrInfoW) get_addr_info;
    decltype(&::FreeAddrInfoW) free_addr_info;
    // Datagram sockets (datagram_impl).
    decltype(&::WSARecvFrom) wsa_recv_from;
    decltype(&::WSASendTo) wsa_send_to;
};

// The operating system's own functions.
[[nodiscard]] const system_calls& native_system_calls() noexcept;

// The table in use: the native one unless a test installed another.
[[nodiscard]] const system_calls& sys() noexcept;

// Installs `table` (nullptr: the native one) for engines created from now on and for every call
// made after it returns. Tests only: install before creating engines and restore after
// destroying them; `table` must outlive every use.
void install_system_calls(const system_calls* table) noexcept;

}  // namespace wire::detail
