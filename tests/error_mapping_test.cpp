// to_error_code, code by code: reset, abort by us, abort by the peer, end of stream, timeout,
// refused, unreachable, no buffers; and the NTSTATUS of a dequeued completion through
// completion_error, as a worker sees it.
#include <wire/error.h>

#include "win/error_mapping.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace wire::detail {
namespace {

std::error_code winsock(int value) { return {value, std::system_category()}; }

// Maps every code both ways (cancelled by the engine or not) and checks both results.
void expect_mapping(std::initializer_list<DWORD> codes, const std::error_code& not_cancelled,
                    const std::error_code& cancelled) {
    for (const DWORD code : codes) {
        SCOPED_TRACE("Win32/Winsock error " + std::to_string(code));
        EXPECT_EQ(to_error_code(code, cancellation::not_by_engine), not_cancelled)
            << to_error_code(code, cancellation::not_by_engine).message();
        EXPECT_EQ(to_error_code(code, cancellation::by_engine), cancelled)
            << to_error_code(code, cancellation::by_engine).message();
        EXPECT_EQ(to_error_code(code), not_cancelled) << "the one-argument form is not_by_engine";
    }
}

TEST(ErrorMapping, SuccessIsNoError) {
    EXPECT_FALSE(to_error_code(ERROR_SUCCESS, cancellation::not_by_engine));
    EXPECT_FALSE(to_error_code(ERROR_SUCCESS, cancellation::by_engine));
    EXPECT_FALSE(to_error_code(ERROR_SUCCESS));
}

TEST(ErrorMapping, ResetByThePeerUnlessTheEngineCancelled) {
    // ERROR_NETNAME_DELETED is what IOCP reports for a reset, and also for an operation cut
    // short by our own closesocket: only who cancelled tells them apart.
    expect_mapping({64, 10054}, winsock(WSAECONNRESET), make_error_code(error::aborted));
}

TEST(ErrorMapping, AbortedByUs) {
    // 995 ERROR_OPERATION_ABORTED (CancelIoEx), 1235 ERROR_REQUEST_ABORTED, 676 ERROR_HANDLES_CLOSED
    // (Wine: socket closed under a pending receive), 6 ERROR_INVALID_HANDLE, WSAENOTSOCK, WSAEINTR:
    // aborted whether or not the engine says it cancelled (nothing else causes them).
    expect_mapping({995, 1235, 676, 6, 10038, 10004}, make_error_code(error::aborted),
                   make_error_code(error::aborted));
}

TEST(ErrorMapping, AbortedByThePeerOrTheNetwork) {
    // ERROR_CONNECTION_ABORTED / WSAECONNABORTED: the local stack gave up on the connection
    // (retransmission timeout, the peer's abort). The engine's own cancels complete with 995 or
    // 64, never with this, so it stays a connection abort either way.
    expect_mapping({1236, 10053}, winsock(WSAECONNABORTED), winsock(WSAECONNABORTED));
}

TEST(ErrorMapping, EndOfStream) {
    // 38 ERROR_HANDLE_EOF, 1226 ERROR_GRACEFUL_DISCONNECT, 10101 WSAEDISCON: the peer's graceful
    // close, reported like a zero-byte receive.
    expect_mapping({38, 1226, 10101}, make_error_code(error::end_of_stream), make_error_code(error::end_of_stream));
}

TEST(ErrorMapping, TimedOut) {
    // 121 ERROR_SEM_TIMEOUT, 258 WAIT_TIMEOUT, 10060 WSAETIMEDOUT.
    expect_mapping({121, 258, 10060}, winsock(WSAETIMEDOUT), winsock(WSAETIMEDOUT));
}

TEST(ErrorMapping, Refused) {
    // 1225 ERROR_CONNECTION_REFUSED, 10061 WSAECONNREFUSED (and 1234 ERROR_PORT_UNREACHABLE).
    expect_mapping({1225, 1234, 10061}, winsock(WSAECONNREFUSED), winsock(WSAECONNREFUSED));
}

TEST(ErrorMapping, Unreachable) {
    expect_mapping({1231, 10051}, winsock(WSAENETUNREACH), winsock(WSAENETUNREACH));    // network
    expect_mapping({1232, 10065}, winsock(WSAEHOSTUNREACH), winsock(WSAEHOSTUNREACH));  // host
}

TEST(ErrorMapping, NoBuffers) {
    // 1450 ERROR_NO_SYSTEM_RESOURCES, 10055 WSAENOBUFS.
    expect_mapping({1450, 10055}, winsock(WSAENOBUFS), winsock(WSAENOBUFS));
}

TEST(ErrorMapping, OtherWin32SpellingsBecomeWinsockValues) {
    expect_mapping({1229}, winsock(WSAENOTCONN), winsock(WSAENOTCONN));
    expect_mapping({1230}, winsock(WSAEISCONN), winsock(WSAEISCONN));
    expect_mapping({232}, winsock(WSAESHUTDOWN), winsock(WSAESHUTDOWN));
    expect_mapping({52, 32, 10048}, winsock(WSAEADDRINUSE), winsock(WSAEADDRINUSE));
    expect_mapping({54}, winsock(WSAENETDOWN), winsock(WSAENETDOWN));
    expect_mapping({1214}, winsock(WSAEADDRNOTAVAIL), winsock(WSAEADDRNOTAVAIL));
}

TEST(ErrorMapping, UnknownCodesPassThroughInTheSystemCategory) {
    expect_mapping({12345}, winsock(12345), winsock(12345));
    expect_mapping({ERROR_ACCESS_DENIED}, winsock(ERROR_ACCESS_DENIED), winsock(ERROR_ACCESS_DENIED));
}

// What a worker computes for a dequeued completion: the kernel's NTSTATUS (OVERLAPPED::Internal)
// through RtlNtStatusToDosError, then to_error_code.
std::error_code from_status(std::uint32_t status, cancellation who) {
    OVERLAPPED overlapped{};
    overlapped.Internal = status;
    return to_error_code(completion_error(overlapped), who);
}

TEST(ErrorMapping, CompletionStatusesReachTheSameCodes) {
    constexpr std::uint32_t status_cancelled = 0xC0000120;           // STATUS_CANCELLED
    constexpr std::uint32_t status_connection_reset = 0xC000020D;    // STATUS_CONNECTION_RESET
    constexpr std::uint32_t status_connection_aborted = 0xC0000241;  // STATUS_CONNECTION_ABORTED
    constexpr std::uint32_t status_connection_refused = 0xC0000236;  // STATUS_CONNECTION_REFUSED
    constexpr std::uint32_t status_io_timeout = 0xC00000B5;          // STATUS_IO_TIMEOUT
    EXPECT_FALSE(from_status(0, cancellation::not_by_engine));
    EXPECT_EQ(from_status(status_cancelled, cancellation::not_by_engine), error::aborted);
    EXPECT_EQ(from_status(status_connection_reset, cancellation::not_by_engine), winsock(WSAECONNRESET));
    EXPECT_EQ(from_status(status_connection_reset, cancellation::by_engine), error::aborted);
    EXPECT_EQ(from_status(status_connection_aborted, cancellation::not_by_engine), winsock(WSAECONNABORTED));
    EXPECT_EQ(from_status(status_connection_refused, cancellation::not_by_engine), winsock(WSAECONNREFUSED));
    EXPECT_EQ(from_status(status_io_timeout, cancellation::not_by_engine), winsock(WSAETIMEDOUT));
}

}  // namespace
}  // namespace wire::detail
