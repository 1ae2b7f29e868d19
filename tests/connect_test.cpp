// The connector: refusal and timeouts come back as errors through on_close, never as a hang.
#include "fault_platform.h"
#include "test_support.h"

namespace wire::test {
namespace {

// A port nobody listens on: bind, read the port, close.
std::uint16_t closed_port() {
    const SOCKET s = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    const endpoint any = endpoint::loopback_v4(0);
    ::bind(s, reinterpret_cast<const sockaddr*>(any.data()), any.size());
    sockaddr_in bound{};
    int length = sizeof(bound);
    ::getsockname(s, reinterpret_cast<sockaddr*>(&bound), &length);
    ::closesocket(s);
    return ::ntohs(bound.sin_port);
}

TEST(Connect, ClosedPortIsRefused) {
    engine e;
    auto rec = std::make_shared<recorder>();
    connection c = e.connect(endpoint::loopback_v4(closed_port()), std::make_unique<recording_handler>(rec));
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_EQ(rec->opened, 0);
    EXPECT_EQ(rec->reason, std::error_code(WSAECONNREFUSED, std::system_category())) << rec->reason.message();
    EXPECT_EQ(e.stats().connect_failures, 1U);
}

TEST(Connect, TimeoutIsHonoured) {
    // A listener that never accepts, its backlog filled: further SYNs are dropped and the
    // connect would wait for the kernel's retries.
    const SOCKET full = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    const endpoint loopback = endpoint::loopback_v4(0);
    ASSERT_EQ(::bind(full, reinterpret_cast<const sockaddr*>(loopback.data()), loopback.size()), 0);
    ASSERT_EQ(::listen(full, 1), 0);
    sockaddr_in bound{};
    int length = sizeof(bound);
    ::getsockname(full, reinterpret_cast<sockaddr*>(&bound), &length);
    const endpoint target = endpoint::loopback_v4(::ntohs(bound.sin_port));

    engine_options options;
    options.connect_timeout = 300ms;
    engine e(options);
    std::vector<std::shared_ptr<recorder>> fillers;
    std::vector<connection> filler_conns;
    for (int i = 0; i < 8; ++i) {  // more than the backlog holds
        fillers.push_back(std::make_shared<recorder>());
        filler_conns.push_back(e.connect(target, std::make_unique<recording_handler>(fillers.back())));
    }
    // At least one of them cannot complete its handshake: it must end with timed_out.
    ASSERT_TRUE(eventually([&] {
        for (const auto& f : fillers) {
            if (f->is_closed()) {
                std::lock_guard lock(f->mutex);
                if (f->reason == error::timed_out) {
                    return true;
                }
            }
        }
        return false;
    }));
    ::closesocket(full);
}

// The connect deadline is armed after the issuing call returns (scheduling may wake a worker: no
// lock may be held). Here the connect completes, and the connection opens, while its issuer is
// still held inside ConnectEx: the deadline wanted for that connect must then never be armed for
// the open connection. Failed before the fix (3 of 3: the open connection was closed with
// timed_out once connect_timeout had passed; under load, EchoLoad.ManyConnectionsManyMessages
// met the same, 4 of 4).
TEST(Connect, ADeadlineWantedForAConnectThatCompletedMeanwhileNeverClosesTheOpenConnection) {
    fault_platform platform;
    engine_options options;
    options.connect_timeout = 200ms;
    engine e(options);
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    call_hold issuer(platform, syscall::connect_ex, hold_point::after_call);
    issuer.arm();
    auto rec = std::make_shared<recorder>();
    connection c;
    std::thread connecting([&] { c = e.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec)); });
    ASSERT_TRUE(eventually([&] { return issuer.held(); }));
    const bool opened_while_held = eventually([&] {
        std::lock_guard lock(rec->mutex);
        return rec->opened == 1;
    }, 10s);
    issuer.release();
    connecting.join();
    ASSERT_TRUE(c);
    if (!opened_while_held) {
        GTEST_SKIP() << "the connect did not complete while its issuer was held (completed inline?): nothing to show";
    }
    // Well past the connect deadline: the connection is still open and still echoes.
    std::this_thread::sleep_for(5 * options.connect_timeout);
    EXPECT_FALSE(rec->is_closed()) << [&] {
        std::lock_guard lock(rec->mutex);
        return rec->reason.message();
    }();
    EXPECT_TRUE(c.is_open());
    const auto message = random_bytes(100, 1);
    ASSERT_FALSE(c.send(message));
    ASSERT_TRUE(eventually([&] { return rec->received_size() == message.size(); }));
    c = {};
    expect_stopped_clean(e);
}

TEST(Connect, CloseWhileConnectingEndsWithoutOpen) {
    engine e;
    auto rec = std::make_shared<recorder>();
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    connection c = e.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec));
    c.abort();
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_EQ(rec->closed, 1);
    // The connect may have completed just before the abort: then it opened, and still closed once.
    EXPECT_LE(rec->opened, 1);
    EXPECT_EQ(rec->reason, error::aborted);
}

TEST(Connect, NullHandlerIsRejected) {
    engine e;
    EXPECT_THROW((void)e.connect(endpoint::loopback_v4(1), nullptr), std::invalid_argument);
}

TEST(Connect, BusyPortCannotBeListenedOnTwice) {
    engine e;
    listener first = e.listen(endpoint::loopback_v4(0), echo_factory());
    EXPECT_THROW((void)e.listen(first.local_endpoint(), echo_factory()), std::system_error);
}

// ---- first data riding in ConnectEx ----------------------------------------------------------

TEST(ConnectFirstData, SmallFirstDataLeavesWithTheConnectItselfNotAWSASend) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    engine client;
    auto rec = std::make_shared<recorder>();
    const auto hello = random_bytes(64, 7);
    connection c = client.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec), hello);
    ASSERT_TRUE(eventually([&] { return rec->received_size() == hello.size(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->received, hello);  // byte-exact, echoed back
        EXPECT_EQ(rec->opened, 1);
    }
    EXPECT_EQ(client.stats().send_calls, 0U);  // the connect carried it: no WSASend at all
    EXPECT_EQ(client.stats().bytes_sent, hello.size());
    c.close();
    c = {};
    expect_stopped_clean(client);
}

TEST(ConnectFirstData, LargeFirstDataAndLaterSendsArriveInOrder) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    engine client;
    auto rec = std::make_shared<recorder>();
    const auto first = random_bytes(300 * 1024, 1);  // more than one send buffer's worth
    const auto second = random_bytes(5000, 2);
    connection c = client.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec), first);
    ASSERT_FALSE(c.send(second));  // queued while connecting: leaves after the first data
    std::vector<std::byte> expected = first;
    expected.insert(expected.end(), second.begin(), second.end());
    ASSERT_TRUE(eventually([&] { return rec->received_size() == expected.size(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_TRUE(rec->received == expected);
    }
    EXPECT_EQ(client.stats().bytes_sent, expected.size());
    c.close();
    c = {};
    expect_stopped_clean(client);
}

TEST(ConnectFirstData, ARefusedConnectGivesItsFirstDataBack) {
    engine e;
    auto rec = std::make_shared<recorder>();
    connection c = e.connect(endpoint::loopback_v4(closed_port()), std::make_unique<recording_handler>(rec),
                             random_bytes(4096, 3));
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 0);
        EXPECT_EQ(rec->reason, std::error_code(WSAECONNREFUSED, std::system_category())) << rec->reason.message();
    }
    EXPECT_EQ(e.stats().buffered_bytes, 0U);  // the engine-wide send budget got the bytes back
    EXPECT_EQ(e.stats().bytes_sent, 0U);
    c = {};
    expect_stopped_clean(e);
}

}  // namespace
}  // namespace wire::test
