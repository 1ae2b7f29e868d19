#include "win/system_calls.h"

#include "core/lock_checks.h"

#include <atomic>

namespace wire::detail {

namespace {

INT WSAAPI native_get_addr_info_ex_cancel(LPHANDLE handle) noexcept {
    using cancel_fn = INT(WSAAPI*)(LPHANDLE);
    static const cancel_fn cancel = [] {
        const HMODULE ws2 = ::GetModuleHandleW(L"ws2_32.dll");  // loaded: the engine links it
        // Through the generic function-pointer type, as error_mapping.cpp explains.
        return ws2 == nullptr ? nullptr
                              : reinterpret_cast<cancel_fn>(reinterpret_cast<void (*)()>(::GetProcAddress(ws2, "GetAddrInfoExCancel")));
    }();
    return cancel == nullptr ? WSA_INVALID_HANDLE : cancel(handle);
}

// Not constexpr: the address of a function imported from a DLL is not a constant expression for
// every compiler (clang, MSVC). The pointer to it below is, so `installed` is constant-initialized.
const system_calls native_table{
    &::WSAStartup,
    &::WSACleanup,
    &::WSASocketW,
    &::bind,
    &::listen,
    &::setsockopt,
    &::getsockopt,
    &::getsockname,
    &::getpeername,
    &::shutdown,
    &::closesocket,
    &::WSARecv,
    &::WSASend,
    &::WSAIoctl,
    &::WSAEnumProtocolsW,
    &::CreateIoCompletionPort,
    &::SetFileCompletionNotificationModes,
    &::PostQueuedCompletionStatus,
    &::GetQueuedCompletionStatusEx,
    &::CancelIoEx,
    &::VirtualAlloc,
    &::VirtualFree,
    &::CreateWaitableTimerExW,
    &::SetWaitableTimer,
    &::GetAddrInfoExW,
    &::FreeAddrInfoExW,
    &native_get_addr_info_ex_cancel,
    &::GetAddrInfoW,
    &::FreeAddrInfoW,
    &::WSARecvFrom,
    &::WSASendTo,
};

std::atomic<const system_calls*> installed{&native_table};

}  // namespace

const system_calls& native_system_calls() noexcept { return native_table; }

const system_calls& sys() noexcept {
    lock_checks::check_no_lock_held();  // debug and test builds: no engine lock across a system call
    return *installed.load(std::memory_order_acquire);
}

void install_system_calls(const system_calls* table) noexcept {
    installed.store(table != nullptr ? table : &native_table, std::memory_order_release);
}

}  // namespace wire::detail
