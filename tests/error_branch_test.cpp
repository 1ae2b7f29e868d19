// The engine's error branches, each reached on purpose (issue 12, item 6): every place where the
// engine reads WSAGetLastError/GetLastError or a completion's status has a row in tests/README.md
// naming the test that reaches it. These are the tests the existing suites did not already cover:
// one system call failed with a real Windows error through the fault platform (or, for calls made
// while an engine is being built, a replaced system-call table), and what the engine does with it.
#include "fault_platform.h"
#include "test_support.h"

#include "win/system_calls.h"

#include <wire/error.h>

namespace wire::test {
namespace {

// NTSTATUS values a reset, an abort and a shortage leave in a completion (ntstatus.h cannot be
// included beside the Windows headers without redefinitions).
constexpr LONG status_connection_reset = static_cast<LONG>(0xC000020DL);
constexpr LONG status_connection_aborted = static_cast<LONG>(0xC0000241L);
constexpr LONG status_insufficient_resources = static_cast<LONG>(0xC000009AL);

std::error_code winsock(int code) { return {code, std::system_category()}; }

// Reads until the peer closes or resets; returns what arrived.
std::vector<std::byte> drain_socket(SOCKET s) {
    std::vector<std::byte> out;
    char buffer[4096];
    for (;;) {
        const int n = ::recv(s, buffer, sizeof(buffer), 0);
        if (n <= 0) {
            return out;
        }
        const auto* first = reinterpret_cast<const std::byte*>(buffer);
        out.insert(out.end(), first, first + n);
    }
}

// The error code of what `call` throws, or none.
template <typename Call>
std::error_code thrown_by(Call call) {
    try {
        call();
    } catch (const std::system_error& e) {
        return e.code();
    }
    return {};
}

// A connect that fails before it opens: on_close once, with the reason, on a worker.
void expect_connect_fails_with(engine& e, const endpoint& target, std::error_code expected) {
    auto rec = std::make_shared<recorder>();
    connection c = e.connect(target, std::make_unique<recording_handler>(rec));
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 0);
        EXPECT_EQ(rec->closed, 1);
        EXPECT_EQ(rec->reason, expected) << rec->reason.message();
    }
    EXPECT_EQ(e.stats().connect_failures, 1U);
    c = {};
    expect_stopped_clean(e);
}

// An engine connection to a raw peer, opened.
struct open_connection {
    raw_listener peer;
    std::shared_ptr<recorder> rec = std::make_shared<recorder>();
    connection c;
    SOCKET accepted = INVALID_SOCKET;

    explicit open_connection(engine& e) {
        c = e.connect(peer.address(), std::make_unique<recording_handler>(rec));
        accepted = peer.accept_one();
        EXPECT_TRUE(eventually([&] {  // on_open ran (the connection may be closed again already)
            std::lock_guard lock(rec->mutex);
            return rec->opened == 1;
        }));
    }
    ~open_connection() { ::closesocket(accepted); }
    open_connection(const open_connection&) = delete;
    open_connection& operator=(const open_connection&) = delete;

    // Waits for on_close and checks it came once, after on_open, with `expected`.
    void expect_closed_with(std::error_code expected) {
        ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 1);
        EXPECT_EQ(rec->closed, 1);
        EXPECT_EQ(rec->events_after_close, 0);
        EXPECT_EQ(rec->reason, expected) << rec->reason.message();
    }
};

// ---- listen (listener_impl::open): each failure reaches the caller as std::system_error ------

TEST(ErrorBranches, ListenReportsASocketThatCannotBeCreated) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::wsa_socket, 1, WSAEMFILE);
    EXPECT_EQ(thrown_by([&] { (void)e.listen(endpoint::loopback_v4(0), echo_factory()); }), winsock(WSAEMFILE));
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());  // the engine is unharmed
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(32, 1)));
    EXPECT_EQ(client.receive_exactly(32), random_bytes(32, 1));
    client.close();
    l = {};
    expect_stopped_clean(e);
}

TEST(ErrorBranches, ListenReportsAFailedBind) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::bind, 1, WSAEADDRINUSE);
    EXPECT_EQ(thrown_by([&] { (void)e.listen(endpoint::loopback_v4(0), echo_factory()); }), winsock(WSAEADDRINUSE));
    expect_stopped_clean(e);
}

TEST(ErrorBranches, ListenReportsAFailedV6OnlyOption) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::setsockopt, 1, WSAENOPROTOOPT);  // IPV6_V6ONLY, the first option set
    EXPECT_EQ(thrown_by([&] { (void)e.listen(endpoint::loopback_v6(0), echo_factory()); }), winsock(WSAENOPROTOOPT));
    expect_stopped_clean(e);
}

TEST(ErrorBranches, ListenReportsAFailedPortAssociation) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::associate, 1, ERROR_NOT_ENOUGH_MEMORY);
    EXPECT_EQ(thrown_by([&] { (void)e.listen(endpoint::loopback_v4(0), echo_factory()); }),
              std::error_code(ERROR_NOT_ENOUGH_MEMORY, std::system_category()));
    expect_stopped_clean(e);
}

// ---- accept (listener_impl::issue_accept, accept_loop, take_accepted; connection_impl::start_accepted)
// One pending accept only: the client is served only if that accept recovered.

TEST(ErrorBranches, AnAcceptThatFailsAtOnceIsCountedAndIssuedAgain) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::accept_ex, 1, WSAENETDOWN);
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory(), listen_options{.pending_accepts = 1});
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(100, 2)));
    EXPECT_EQ(client.receive_exactly(100), random_bytes(100, 2));
    EXPECT_EQ(e.stats().accept_failures, 1U);
    EXPECT_EQ(platform.injected(syscall::accept_ex), 1U);
    client.close();
    l = {};
    expect_stopped_clean(e);
}

TEST(ErrorBranches, AnAcceptSocketShortageRetriesLater) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::wsa_socket, 2, WSAENOBUFS);  // 1: the listening socket, 2: its accept socket
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory(), listen_options{.pending_accepts = 1});
    // The retry comes from the timer as a posted WSAENOBUFS, counted as an accept failure.
    ASSERT_TRUE(eventually([&] { return e.stats().accept_failures == 1; }));
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(100, 3)));
    EXPECT_EQ(client.receive_exactly(100), random_bytes(100, 3));
    EXPECT_EQ(e.stats().accept_failures, 1U);
    client.close();
    l = {};
    expect_stopped_clean(e);
}

TEST(ErrorBranches, AFailedAcceptContextDropsThatClientOnly) {
    fault_platform platform;
    engine e;
    std::atomic<int> handlers{0};
    listener l = e.listen(
        endpoint::loopback_v4(0),
        [&] {
            ++handlers;
            return std::make_unique<echo_handler>();
        },
        listen_options{.pending_accepts = 1});
    platform.fail_nth(syscall::setsockopt, 1, WSAENETDOWN);  // SO_UPDATE_ACCEPT_CONTEXT of the first accept
    blocking_client dropped(l.local_endpoint());
    ASSERT_TRUE(dropped.send_all(random_bytes(10, 4)));
    EXPECT_TRUE(drain_socket(dropped.native()).empty());  // closed without an echo
    EXPECT_EQ(e.stats().accept_failures, 1U);
    EXPECT_EQ(handlers.load(), 0);  // turned away before any handler existed
    blocking_client served(l.local_endpoint());
    ASSERT_TRUE(served.send_all(random_bytes(100, 5)));
    EXPECT_EQ(served.receive_exactly(100), random_bytes(100, 5));
    EXPECT_EQ(handlers.load(), 1);
    dropped.close();
    served.close();
    l = {};
    expect_stopped_clean(e);
}

// An accepted socket that cannot join the port is refused before any handler exists for it
// (on_open comes first or not at all), and reported through on_rejected.
TEST(ErrorBranches, AnAcceptedSocketThatCannotJoinThePortIsRejectedBeforeAnyHandler) {
    fault_platform platform;
    std::mutex mutex;
    std::vector<std::error_code> rejected;
    engine_options options;
    options.on_rejected = [&](const endpoint&, std::error_code reason) {
        std::lock_guard lock(mutex);
        rejected.push_back(reason);
    };
    engine e(options);
    std::atomic<int> handlers{0};
    listener l = e.listen(endpoint::loopback_v4(0), [&] {
        ++handlers;
        return std::make_unique<echo_handler>();
    });
    platform.fail_nth(syscall::associate, 1, ERROR_NOT_ENOUGH_MEMORY);  // the accepted socket's association
    blocking_client client(l.local_endpoint());
    EXPECT_TRUE(drain_socket(client.native()).empty());  // reset (or closed) at once
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return rejected.size() == 1;
    }));
    {
        std::lock_guard lock(mutex);
        EXPECT_EQ(rejected[0], std::error_code(ERROR_NOT_ENOUGH_MEMORY, std::system_category())) << rejected[0].message();
    }
    EXPECT_EQ(handlers.load(), 0);
    EXPECT_EQ(e.stats().connections_rejected, 1U);
    blocking_client next(l.local_endpoint());  // the listener goes on
    ASSERT_TRUE(next.send_all(random_bytes(16, 1)));
    EXPECT_EQ(next.receive_exactly(16), random_bytes(16, 1));
    client.close();
    next.close();
    l = {};
    expect_stopped_clean(e);
}

// ---- connect (connector::prepare_new_socket, issue, finish; connection_impl::handle_connect) --

TEST(ErrorBranches, AConnectWhoseSocketCannotBeCreatedFailsWithTheError) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::wsa_socket, 1, WSAEMFILE);
    expect_connect_fails_with(e, endpoint::loopback_v4(9), winsock(WSAEMFILE));
}

TEST(ErrorBranches, AConnectWhoseSocketCannotJoinThePortFailsWithTheError) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::associate, 1, ERROR_NOT_ENOUGH_MEMORY);
    expect_connect_fails_with(e, endpoint::loopback_v4(9), std::error_code(ERROR_NOT_ENOUGH_MEMORY, std::system_category()));
}

TEST(ErrorBranches, AConnectWhoseBindFailsFailsWithTheError) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::bind, 1, WSAENOBUFS);
    expect_connect_fails_with(e, endpoint::loopback_v4(9), winsock(WSAENOBUFS));
}

TEST(ErrorBranches, AConnectExThatFailsAtOnceIsReportedOnAWorker) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::connect_ex, 1, WSAENETUNREACH);
    expect_connect_fails_with(e, endpoint::loopback_v4(9), winsock(WSAENETUNREACH));
}

TEST(ErrorBranches, AFailedConnectContextEndsTheConnect) {
    fault_platform platform;
    raw_listener peer;
    engine e;
    // 1: TCP_NODELAY on the new socket (best effort), 2: SO_UPDATE_CONNECT_CONTEXT once connected.
    platform.fail_nth(syscall::setsockopt, 2, WSAENETDOWN);
    expect_connect_fails_with(e, peer.address(), winsock(WSAENETDOWN));
}

// ---- receive (receiver::issue; connection_impl::receive_loop, end_receiving) ------------------

TEST(ErrorBranches, AReceiveThatFailsAtOnceClosesWithItsError) {
    fault_platform platform;
    engine e;
    platform.fail_nth(syscall::wsa_recv, 1, WSAENOBUFS);  // the first receive, issued after on_open
    open_connection open(e);
    open.expect_closed_with(winsock(WSAENOBUFS));
    open.c = {};
    expect_stopped_clean(e);
}

TEST(ErrorBranches, AReceiveCompletingWithAResetClosesWithReset) {
    fault_platform platform;
    engine e;
    platform.complete_nth_with(syscall::wsa_recv, 1, status_connection_reset);
    open_connection open(e);
    // STATUS_CONNECTION_RESET -> ERROR_NETNAME_DELETED (completion_error) -> WSAECONNRESET (to_error_code)
    open.expect_closed_with(winsock(WSAECONNRESET));
    open.c = {};
    expect_stopped_clean(e);
}

// ---- send (sender::issue; connection_impl::flush, handle_send, send_fin) ----------------------

TEST(ErrorBranches, ASendThatFailsAtOnceClosesWithItsError) {
    fault_platform platform;
    engine e;
    open_connection open(e);
    platform.fail_nth(syscall::wsa_send, 1, WSAENOBUFS);
    EXPECT_FALSE(open.c.send(random_bytes(100, 6)));  // queued; the WSASend that follows fails
    open.expect_closed_with(winsock(WSAENOBUFS));
    EXPECT_TRUE(drain_socket(open.accepted).empty());  // reset: none of it left
    EXPECT_EQ(e.stats().bytes_sent, 0U);
    open.c = {};
    expect_stopped_clean(e);
}

// A provider that reports more bytes sent than a send was given (a defect the engine never
// expects): the stream cannot be trusted, so that connection is reset with ERROR_INVALID_DATA
// and counted, rather than the surplus quietly taken from the bytes queued behind.
TEST(ErrorBranches, ASendCompletionReportingMoreThanItWasGivenResetsThatConnection) {
#ifndef NDEBUG
    GTEST_SKIP() << "debug builds assert on this defect by design (sender::completed); Release runs it";
#endif
    fault_platform platform;
    engine e;
    open_connection open(e);
    platform.overreport_nth_send(1, 10);
    EXPECT_FALSE(open.c.send(random_bytes(100, 8)));
    open.expect_closed_with(std::error_code(ERROR_INVALID_DATA, std::system_category()));
    EXPECT_EQ(e.stats().send_overreports, 1U);
    EXPECT_EQ(e.stats().bytes_sent, 100U);  // what it was given, no more
    EXPECT_EQ(e.stats().buffered_bytes, 0U);
    open.c = {};
    expect_stopped_clean(e);
}

struct completion_case {
    LONG status;
    int expected;  // the Winsock error on_close reports
    const char* name;
};

void PrintTo(const completion_case& c, std::ostream* out) { *out << c.name; }

class SendCompletion : public ::testing::TestWithParam<completion_case> {};

TEST_P(SendCompletion, ClosesWithTheMappedError) {
    fault_platform platform;
    engine e;
    open_connection open(e);
    platform.complete_nth_with(syscall::wsa_send, 1, GetParam().status);
    EXPECT_FALSE(open.c.send(random_bytes(100, 7)));
    open.expect_closed_with(winsock(GetParam().expected));
    EXPECT_EQ(e.stats().bytes_sent, 0U);
    open.c = {};
    expect_stopped_clean(e);
}

INSTANTIATE_TEST_SUITE_P(ErrorBranches, SendCompletion,
                         ::testing::Values(completion_case{status_connection_reset, WSAECONNRESET, "Reset"},
                                           completion_case{status_connection_aborted, WSAECONNABORTED, "Aborted"},
                                           completion_case{status_insufficient_resources, WSAENOBUFS, "NoResources"}),
                         [](const ::testing::TestParamInfo<completion_case>& p) { return std::string(p.param.name); });

TEST(ErrorBranches, AFinThatCannotBeSentResetsWithItsError) {
    fault_platform platform;
    engine e;
    open_connection open(e);
    platform.fail_nth(syscall::shutdown, 1, WSAENETDOWN);
    open.c.close();
    open.expect_closed_with(winsock(WSAENETDOWN));
    open.c = {};
    expect_stopped_clean(e);
}

// ---- the completion port (completion_port::post_quit; engine_core::worker_loop) ---------------

TEST(ErrorBranches, RefusedQuitPacketsAreRetriedUntilStopFinishes) {
    fault_platform platform;
    engine_options options;
    options.worker_threads = 2;
    engine e(options);
    std::atomic<int> refused{0};
    // An idle engine posts nothing but its workers' quit packets: these are the ones refused.
    platform.fail_while(syscall::post, ERROR_NO_SYSTEM_RESOURCES, [&] { return refused.fetch_add(1) < 3; });
    e.stop();
    EXPECT_GE(e.stats().post_failures, 3U);
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

TEST(ErrorBranches, AWorkerToldThePortIsClosedLeavesAndTheOthersServe) {
    fault_platform platform;
    engine_options options;
    options.worker_threads = 2;
    engine e(options);
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    // The next dequeue reports what a closed port reports: that worker returns for good.
    platform.fail_nth(syscall::dequeue, 1, ERROR_ABANDONED_WAIT_0);
    blocking_client client(l.local_endpoint());
    for (std::uint32_t round = 0; round < 5; ++round) {
        ASSERT_TRUE(client.send_all(random_bytes(64, round)));
        ASSERT_EQ(client.receive_exactly(64), random_bytes(64, round));
    }
    // Those rounds may all have run inline on the worker that took the accept, which then meets
    // the failure only when it next dequeues: wait for that, then the other worker serves alone.
    ASSERT_TRUE(eventually([&] { return e.stats().dequeue_failures == 1; }));
    for (std::uint32_t round = 5; round < 10; ++round) {
        ASSERT_TRUE(client.send_all(random_bytes(64, round)));
        ASSERT_EQ(client.receive_exactly(64), random_bytes(64, round));
    }
    EXPECT_EQ(platform.injected(syscall::dequeue), 1U);
    EXPECT_EQ(e.stats().dequeue_failures, 1U);  // outside stop() a worker leaving is counted, never silent
    client.close();
    l = {};
    expect_stopped_clean(e);
}

// ---- recycling (socket_pool::recycle) ----------------------------------------------------------

TEST(ErrorBranches, ADisconnectExThatFailsAtOnceCostsThatSocketOnly) {
    fault_platform platform;
    engine e;
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    platform.fail_nth(syscall::disconnect_ex, 1, WSAENOBUFS);
    // Passive closes (the client's FIN first) are the ones recycled.
    for (std::uint32_t round = 0; round < 2; ++round) {
        blocking_client client(l.local_endpoint());
        ASSERT_TRUE(client.send_all(random_bytes(16, round)));
        client.shutdown_send();
        auto [echoed, clean] = client.receive_to_end();
        EXPECT_TRUE(clean);
        EXPECT_EQ(echoed, random_bytes(16, round));
        ASSERT_TRUE(eventually([&] { return platform.calls(syscall::disconnect_ex) == round + 1; })) << "round " << round;
    }
    // The failed one neither probed nor turned recycling off: the second close tried again.
    EXPECT_EQ(platform.injected(syscall::disconnect_ex), 1U);
    l = {};
    expect_stopped_clean(e);
}

// ---- engine construction: calls made before a fault platform could arm a rule ----------------
// A replaced table for one test: the native calls with one function swapped.
class replaced_calls {
public:
    replaced_calls() : table_(detail::native_system_calls()) {}
    ~replaced_calls() { detail::install_system_calls(nullptr); }
    replaced_calls(const replaced_calls&) = delete;
    replaced_calls& operator=(const replaced_calls&) = delete;
    detail::system_calls& table() { return table_; }
    void install() { detail::install_system_calls(&table_); }

private:
    detail::system_calls table_;
};

HANDLE WINAPI refuse_new_port(HANDLE file, HANDLE existing, ULONG_PTR key, DWORD threads) {
    if (file == INVALID_HANDLE_VALUE) {
        ::SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return nullptr;
    }
    return detail::native_system_calls().create_io_completion_port(file, existing, key, threads);
}

TEST(ErrorBranches, AnEngineWhosePortCannotBeCreatedThrows) {
    replaced_calls calls;
    calls.table().create_io_completion_port = &refuse_new_port;
    calls.install();
    EXPECT_EQ(thrown_by([] { engine e; }), std::error_code(ERROR_NOT_ENOUGH_MEMORY, std::system_category()));
}

int WSAAPI refuse_startup(WORD /*version*/, LPWSADATA /*data*/) { return WSASYSNOTREADY; }

TEST(ErrorBranches, AnEngineWhoseWinsockCannotStartThrows) {
    replaced_calls calls;
    calls.table().wsa_startup = &refuse_startup;
    calls.install();
    EXPECT_EQ(thrown_by([] { engine e; }), winsock(WSASYSNOTREADY));
}

int WSAAPI refuse_extension_functions(SOCKET s, DWORD code, LPVOID in, DWORD in_size, LPVOID out, DWORD out_size,
                                      LPDWORD returned, LPWSAOVERLAPPED overlapped,
                                      LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    if (code == SIO_GET_EXTENSION_FUNCTION_POINTER) {
        ::WSASetLastError(WSAEOPNOTSUPP);
        return SOCKET_ERROR;
    }
    return detail::native_system_calls().wsa_ioctl(s, code, in, in_size, out, out_size, returned, overlapped, routine);
}

TEST(ErrorBranches, AnEngineWithoutExtensionFunctionsThrows) {
    replaced_calls calls;
    calls.table().wsa_ioctl = &refuse_extension_functions;
    calls.install();
    EXPECT_EQ(thrown_by([] { engine e; }), winsock(WSAEOPNOTSUPP));
}

TEST(ErrorBranches, AnEngineWhoseProbeSocketCannotBeCreatedThrows) {
    fault_platform platform;
    platform.fail_nth(syscall::wsa_socket, 1, WSAENOBUFS);  // the socket the extension functions are loaded on
    EXPECT_EQ(thrown_by([] { engine e; }), winsock(WSAENOBUFS));
    engine e;  // the next one is built
    expect_stopped_clean(e);
}

std::atomic<int> enum_calls{0};
std::atomic<int> enum_fail_on{0};

int WSAAPI failing_enum_protocols(LPINT protocols, LPWSAPROTOCOL_INFOW buffer, LPDWORD length) {
    if (++enum_calls == enum_fail_on.load()) {
        ::WSASetLastError(WSAENETDOWN);
        return SOCKET_ERROR;
    }
    return detail::native_system_calls().wsa_enum_protocols(protocols, buffer, length);
}

// Which providers are IFS decides skip-on-success; not knowing turns it off, and the engine works.
class ProtocolEnumeration : public ::testing::TestWithParam<int> {};

TEST_P(ProtocolEnumeration, FailingTurnsSkipOnSuccessOff) {
    {
        engine baseline;  // with the calls as they are, skip-on-success is on (Wine and Windows)
        ASSERT_TRUE(baseline.features().skip_completion_port_on_success);
    }
    enum_calls = 0;
    enum_fail_on = GetParam();  // 1: the size query, 2: the listing itself
    replaced_calls calls;
    calls.table().wsa_enum_protocols = &failing_enum_protocols;
    calls.install();
    engine e;
    EXPECT_GE(enum_calls.load(), GetParam());
    EXPECT_FALSE(e.features().skip_completion_port_on_success);
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(100, 8)));
    EXPECT_EQ(client.receive_exactly(100), random_bytes(100, 8));
    EXPECT_EQ(e.stats().completions_inline, 0U);
    client.close();
    l = {};
    expect_stopped_clean(e);
}

INSTANTIATE_TEST_SUITE_P(ErrorBranches, ProtocolEnumeration, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& p) {
                             return p.param == 1 ? std::string("SizeQuery") : std::string("Listing");
                         });

}  // namespace
}  // namespace wire::test
