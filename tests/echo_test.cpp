// End to end over 127.0.0.1: an engine listener echoes what an engine connection sends.
#include "test_support.h"

namespace wire::test {
namespace {

const auto* const winsock = ::testing::AddGlobalTestEnvironment(new winsock_environment);

TEST(Echo, OneExchangeThroughListenerAndConnector) {
    engine e;
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    ASSERT_NE(l.local_endpoint().port(), 0);

    auto rec = std::make_shared<recorder>();
    connection c = e.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec));
    const auto payload = random_bytes(1000, 1);
    ASSERT_FALSE(c.send(payload));  // queued while connecting, sent once open
    ASSERT_TRUE(eventually([&] { return rec->received_size() >= payload.size(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 1);
        EXPECT_EQ(rec->received, payload);
    }
    c.close();
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    EXPECT_FALSE(rec->reason) << rec->reason.message();
    e.stop();
    const statistics s = e.stats();
    EXPECT_EQ(s.connections_open, 0U);
    EXPECT_EQ(s.operations_pending, 0U);
}

TEST(Echo, BlockingPeerGetsItsBytesBack) {
    engine e;
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.connected());
    const auto payload = random_bytes(64 * 1024, 2);
    ASSERT_TRUE(client.send_all(payload));
    EXPECT_EQ(client.receive_exactly(payload.size()), payload);
}

}  // namespace
}  // namespace wire::test
