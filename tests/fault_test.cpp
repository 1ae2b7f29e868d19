// Faults injected at the system-call seam (fault_platform.h): each failure the engine can meet
// from the system, and what it does with it.
#include "fault_platform.h"
#include "test_support.h"


namespace wire::test {
namespace {

std::vector<std::byte> receive_exactly(SOCKET s, std::size_t size) {
    std::vector<std::byte> out(size);
    std::size_t got = 0;
    while (got < size) {
        const int n = ::recv(s, reinterpret_cast<char*>(out.data() + got), static_cast<int>(size - got), 0);
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

// Issue 11, defect 4: a thread's send() must not wait for a system call another thread is making
// on the same connection. A worker is held inside WSARecv; send() from the test thread returns.
// (8d66114 held the connection's lock across WSARecv, so this send() waited for the worker.)
TEST(Faults, SendDoesNotWaitForAReceiveCallInProgress) {
    fault_platform platform;
    call_hold receive_call(platform, syscall::wsa_recv);
    raw_listener peer;
    engine_options options;
    options.worker_threads = 2;
    engine e(options);
    auto record = std::make_shared<recorder>();
    receive_call.arm();  // the connection's first receive, issued on a worker after on_open
    connection c = e.connect(peer.address(), std::make_unique<recording_handler>(record));
    const SOCKET accepted = peer.accept_one();
    ASSERT_TRUE(eventually([&] { return receive_call.held(); }));

    const std::vector<std::byte> payload = random_bytes(1000, 4);
    std::atomic<bool> sent{false};
    std::thread sender([&] {
        EXPECT_FALSE(c.send(payload));
        sent = true;
    });
    const bool returned = eventually([&] { return sent.load(); }, 10s);
    receive_call.release();
    sender.join();
    EXPECT_TRUE(returned) << "send() waited for a WSARecv in progress on a worker";
    EXPECT_EQ(receive_exactly(accepted, payload.size()), payload);
    ::closesocket(accepted);
    ASSERT_TRUE(eventually([&] { return record->is_closed(); }));
    c = {};
    expect_stopped_clean(e);
}

// Issue 11, defect 5: a refused PostQueuedCompletionStatus is retried, never dropped. Here the
// post that restarts a paused receive fails three times; the echo still comes back.
// (8d66114 ignored the failure: the receive never restarted and stop() waited out its bound.)
TEST(Faults, RefusedPostsAreRetried) {
    fault_platform platform;
    engine e;
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    auto record = std::make_shared<recorder>();
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(10, 1)));
    ASSERT_EQ(client.receive_exactly(10), random_bytes(10, 1));

    engine client_side;
    connection c = client_side.connect(l.local_endpoint(), std::make_unique<recording_handler>(record));
    ASSERT_TRUE(eventually([&] { return c.is_open(); }));
    // Open comes before the first receive is issued: pausing then would issue none at all (Wine
    // 10's full run once timed out here). Wait until the first receive is outstanding.
    ASSERT_TRUE(eventually([&] { return client_side.stats().receive_calls >= 1; }));
    c.pause_receiving();
    // The receive already outstanding takes the first echo; then none is issued until resumed.
    ASSERT_FALSE(c.send(random_bytes(100, 2)));
    ASSERT_TRUE(eventually([&] { return record->received_size() == 100; }));
    ASSERT_FALSE(c.send(random_bytes(100, 3)));
    ASSERT_TRUE(eventually([&] { return e.stats().bytes_sent >= 10 + 200; }));
    EXPECT_EQ(record->received_size(), 100U);
    std::atomic<int> refused{0};
    platform.fail_while(syscall::post, ERROR_NO_SYSTEM_RESOURCES, [&] { return refused.fetch_add(1) < 3; });
    c.resume_receiving();  // the post that restarts the receive is refused three times
    ASSERT_TRUE(eventually([&] { return record->received_size() == 200; }));
    EXPECT_GE(client_side.stats().post_failures + e.stats().post_failures, 3U);
    c.close();
    ASSERT_TRUE(eventually([&] { return record->is_closed(); }));
    c = {};
    client_side.stop();
    e.stop();
    EXPECT_EQ(client_side.stats().operations_pending, 0U);
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

// Issue 11, defect 5: a dequeue that fails for any reason but the port closing does not end the
// worker. With one worker, every failure would otherwise stop the engine for good.
// (8d66114 returned from the worker loop on any failure.)
TEST(Faults, AFailingDequeueDoesNotEndTheWorker) {
    fault_platform platform;
    engine_options options;
    options.worker_threads = 1;
    engine e(options);
    // The worker's next two dequeues fail, one after the other.
    platform.fail_nth(syscall::dequeue, 1, ERROR_INVALID_PARAMETER);
    platform.fail_nth(syscall::dequeue, 2, ERROR_NOT_ENOUGH_MEMORY);
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    blocking_client client(l.local_endpoint());
    for (std::uint32_t round = 0; round < 5; ++round) {
        ASSERT_TRUE(client.send_all(random_bytes(64, round)));
        ASSERT_EQ(client.receive_exactly(64), random_bytes(64, round));
    }
    // Those rounds may all have run inline without a dequeue: the failures come when the worker
    // next dequeues. After them it must still serve.
    ASSERT_TRUE(eventually([&] { return e.stats().dequeue_failures == 2; }));
    for (std::uint32_t round = 5; round < 10; ++round) {
        ASSERT_TRUE(client.send_all(random_bytes(64, round)));
        ASSERT_EQ(client.receive_exactly(64), random_bytes(64, round));
    }
    EXPECT_EQ(e.stats().dequeue_failures, 2U);
    client.close();
    e.stop();
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

// Windows promises no order between a connection's operations: a send's completion may arrive
// after receives issued later, on another worker. The engine keeps one send outstanding and
// gathers what queued meanwhile, so the bytes still leave in order.
TEST(Faults, LateSendCompletionsKeepTheByteOrder) {
    fault_platform platform;
    engine e;
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(16, 0)));
    ASSERT_EQ(client.receive_exactly(16), random_bytes(16, 0));
    for (std::uint64_t nth = 1; nth <= 3; ++nth) {
        platform.delay_nth_send_completion(nth, 150ms);
    }
    std::vector<std::byte> expected;
    for (std::uint32_t i = 1; i <= 40; ++i) {
        const auto chunk = random_bytes(100 + i, i);
        expected.insert(expected.end(), chunk.begin(), chunk.end());
        ASSERT_TRUE(client.send_all(chunk));
    }
    EXPECT_EQ(client.receive_exactly(expected.size()), expected);
    // The engine counts bytes when their completion arrives, which the platform holds back.
    EXPECT_TRUE(eventually([&] { return e.stats().bytes_sent == 16U + expected.size(); }));
    client.close();
    expect_stopped_clean(e);
}

// A reset reaching a pending send (Windows completes it with STATUS_CONNECTION_RESET, which
// surfaces as ERROR_NETNAME_DELETED) closes that connection as a reset; another goes on.
TEST(Faults, AResetReachingAPendingSendClosesThatConnectionAsAReset) {
    fault_platform platform;
    engine e;
    echo_close_log server;
    listener l = e.listen(endpoint::loopback_v4(0), server.factory());
    blocking_client victim(l.local_endpoint());
    blocking_client bystander(l.local_endpoint());
    ASSERT_TRUE(victim.send_all(random_bytes(8, 1)));
    ASSERT_EQ(victim.receive_exactly(8), random_bytes(8, 1));
    constexpr LONG status_connection_reset = static_cast<LONG>(0xC000020DL);
    platform.complete_nth_with(syscall::wsa_send, 1, status_connection_reset);
    ASSERT_TRUE(victim.send_all(random_bytes(8, 2)));
    ASSERT_TRUE(eventually([&] { return server.closed().size() == 1; }));
    EXPECT_EQ(server.closed()[0], std::error_code(WSAECONNRESET, std::system_category())) << server.closed()[0].message();
    ASSERT_TRUE(bystander.send_all(random_bytes(8, 3)));
    EXPECT_EQ(bystander.receive_exactly(8), random_bytes(8, 3));
    bystander.close();
    victim.close();
    expect_stopped_clean(e);
}

// The idle sweep parks a quiet pooled receive by cancelling it, outside the connection's lock.
// Data that arrives between the sweep's decision and its cancel completes that receive, and the
// cancel then meets the next one. That abort is still the sweep's: the connection must go on.
// (Found by CI in the first version of the restructured receiver: it closed the connection.)
TEST(Faults, AParkCancelThatMeetsTheNextReceiveDoesNotCloseTheConnection) {
    fault_platform platform;
    call_hold park_cancel(platform, syscall::cancel);
    engine_options options;
    options.receive_park_after = 100ms;
    engine e(options);
    echo_close_log server;
    listener l = e.listen(endpoint::loopback_v4(0), server.factory());
    blocking_client client(l.local_endpoint());
    // 1000 bytes fill the 512-byte small buffer: the connection now receives into a pooled one.
    ASSERT_TRUE(client.send_all(random_bytes(1000, 1)));
    ASSERT_EQ(client.receive_exactly(1000), random_bytes(1000, 1));
    park_cancel.arm();  // the next CancelIoEx is the sweep parking that receive: hold it
    ASSERT_TRUE(eventually([&] { return park_cancel.held(); }));
    ASSERT_TRUE(client.send_all(random_bytes(64, 2)));  // completes the receive; the next is issued
    ASSERT_EQ(client.receive_exactly(64), random_bytes(64, 2));
    const std::uint64_t parked = e.stats().receives_parked;
    park_cancel.release();  // the cancel now meets the next receive, which waits for data
    // Parked, or holding no pooled buffer anyway: when round 2 arrived before the next receive was
    // issued, that receive is a small one and the cancel finds nothing (seen about 1 run in 20
    // once the sweep ran on a worker: cancels 1, receive_buffers_held 0, nothing more to park).
    ASSERT_TRUE(eventually([&] {
        return e.stats().receives_parked > parked || e.stats().receive_buffers_held == 0 || !server.closed().empty();
    }));
    EXPECT_TRUE(server.closed().empty()) << server.closed()[0].message();
    for (std::uint32_t round = 3; round < 6; ++round) {
        ASSERT_TRUE(client.send_all(random_bytes(64, round)));
        ASSERT_EQ(client.receive_exactly(64), random_bytes(64, round)) << "round " << round;
    }
    EXPECT_TRUE(server.closed().empty());
    client.close();
    l = {};
    e.stop();
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

}  // namespace
}  // namespace wire::test
