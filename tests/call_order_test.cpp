// After an overlapped call returns, the issuing thread touches nothing the completion's handler
// may change (issue 22): on Windows the completion may already have been dequeued and handled on
// another worker by then. The seam holds a call after the real call returned until its completion
// has been handled and the handler has issued the next call; what reaches the peer must then be
// exactly what the application sent.
#include "fault_platform.h"
#include "test_support.h"

#include <gsl/util>

#include <thread>

namespace wire::test {
namespace {

struct send_case {
    bool skip_port;        // false: a synchronous success queues its packet inside the call
    std::size_t behind;    // messages of 20,000 B queued behind the first send
};

void PrintTo(const send_case& c, std::ostream* out) {
    *out << (c.skip_port ? "skip-on-success" : "always through the port") << ", " << c.behind << " behind";
}

std::string send_case_name(const ::testing::TestParamInfo<send_case>& info) {
    return std::string(info.param.skip_port ? "Inline" : "AlwaysDequeue") +
           (info.param.behind > 2 ? "SpilledArray" : "InlineArray");
}

class SendAfterReturn : public ::testing::TestWithParam<send_case> {};

// Send #1 (1,000 B) is held before its real call while the other messages queue behind it, then
// held after the real call returned until send #2, issued by the worker that handled #1's
// completion, has entered the seam. #2 gathers the queued messages: over four blocks its WSABUFs
// live in a heap array. The issuer of #1 then runs the code after its call while #2 is made.
// Without skip-on-success #1's packet is queued by its synchronous success; with it, #1 pends and
// completes from another thread a millisecond later (a pending send that finishes before its call
// has returned to the engine).
// Before the fix (sender::issue freed the sender's spilled array after WSASend returned), the
// SpilledArray variants delivered heap words instead of the queued bytes. The InlineArray
// variants passed before too: they keep the inline path under the same interleaving.
TEST_P(SendAfterReturn, TheNextSendIsIssuedWithWhatWasQueued) {
    fault_platform platform;
    raw_listener peer_listener;
    engine_options options;
    options.worker_threads = 2;
    options.skip_completion_port_on_success = GetParam().skip_port;
    engine e(options);
    auto rec = std::make_shared<recorder>();
    connection c = e.connect(peer_listener.address(), std::make_unique<recording_handler>(rec));
    const SOCKET peer = peer_listener.accept_one();
    ASSERT_NE(peer, INVALID_SOCKET);
    const auto close_peer = gsl::finally([peer] { ::closesocket(peer); });
    ASSERT_TRUE(eventually([&] { return c.is_open(); }));

    call_hold first_before(platform, syscall::wsa_send, hold_point::before_call);
    call_hold first_after(platform, syscall::wsa_send, hold_point::after_call);
    std::atomic<bool> second_entered{false};
    std::atomic<int> sends{0};
    platform.before(syscall::wsa_send, [&] {
        if (++sends == 2) {
            // #2: #1's issuer may not have reached its hold yet (preempted after its real call):
            // wait for it, then let it run what follows its call while #2 is made.
            if (eventually([&] { return first_after.held(); }, 10s)) {
                second_entered = true;
            }
            first_after.release();
            std::this_thread::sleep_for(5ms);
        }
    });
    if (GetParam().skip_port) {
        platform.delay_nth_send_completion(1, 1ms);
    }
    first_before.arm();
    first_after.arm();

    const auto first = random_bytes(1000, 1);
    std::vector<std::byte> expected(first.begin(), first.end());
    std::thread issuer([&] { EXPECT_FALSE(c.send(first)); });  // flush issues #1 on this thread
    ASSERT_TRUE(eventually([&] { return first_before.held(); }));
    for (std::size_t i = 0; i < GetParam().behind; ++i) {
        const auto message = random_bytes(20'000, static_cast<std::uint32_t>(i + 2));
        ASSERT_FALSE(c.send(message)) << "message " << i;
        expected.insert(expected.end(), message.begin(), message.end());
    }
    first_before.release();
    const bool interleaved = eventually([&] { return second_entered.load(); });
    first_after.release();  // (already released when #2 entered)
    issuer.join();
    EXPECT_TRUE(interleaved) << "send #2 never entered the seam while #1 was held after its return";

    std::vector<std::byte> received(expected.size());
    std::size_t got = 0;
    while (got < received.size()) {
        const int n = ::recv(peer, reinterpret_cast<char*>(received.data() + got), static_cast<int>(received.size() - got), 0);
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    received.resize(got);
    EXPECT_EQ(got, expected.size());
    EXPECT_TRUE(received == expected) << "bytes on the wire differ from what was sent";
    EXPECT_EQ(e.stats().send_overreports, 0U);
    EXPECT_TRUE(eventually([&] { return c.queued_bytes() == 0; }));
    ::shutdown(peer, SD_SEND);  // the peer's FIN: the graceful close needs no deadline
    c.close();
    e.stop();
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

INSTANTIATE_TEST_SUITE_P(Ordering, SendAfterReturn,
                         ::testing::Values(send_case{false, 5}, send_case{true, 5}, send_case{false, 2},
                                           send_case{true, 2}),
                         send_case_name);

}  // namespace
}  // namespace wire::test
