#include "win/system_calls.h"

#include <atomic>

namespace wire::detail {

namespace {

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
    &::WSARecvFrom,
    &::WSASendTo,
};

std::atomic<const system_calls*> installed{&native_table};

}  // namespace

const system_calls& native_system_calls() noexcept { return native_table; }

const system_calls& sys() noexcept { return *installed.load(std::memory_order_acquire); }

void install_system_calls(const system_calls* table) noexcept {
    installed.store(table != nullptr ? table : &native_table, std::memory_order_release);
}

}  // namespace wire::detail
