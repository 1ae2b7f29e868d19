// Socket recycling: sockets of passively closed connections are disconnected with
// DisconnectEx(TF_REUSE_SOCKET) and reused by AcceptEx / ConnectEx where that works. Where it
// does not, the engine detects it and falls back to fresh sockets without the user seeing an
// error. Wine 8 never completes DisconnectEx(TF_REUSE_SOCKET): the first one (the probe) times out
// and recycling is switched off.
#include "test_support.h"

namespace wire::test {
namespace {

bool running_under_wine() {
    const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
    return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

void churn(engine& client, const endpoint& server, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        auto rec = std::make_shared<recorder>();
        connection c = client.connect(server, std::make_unique<recording_handler>(rec));
        const auto payload = random_bytes(64, static_cast<std::uint32_t>(i));
        ASSERT_FALSE(c.send(payload));
        ASSERT_TRUE(eventually([&] { return rec->received_size() == payload.size(); })) << "round " << i;
        c.close();
        ASSERT_TRUE(eventually([&] { return rec->is_closed(); })) << "round " << i;
        std::lock_guard lock(rec->mutex);
        ASSERT_EQ(rec->received, payload) << "round " << i;
        ASSERT_FALSE(rec->reason) << "round " << i << ": " << rec->reason.message();
    }
}

TEST(Recycle, ChurnWorksAndReuseIsDetectedNotAssumed) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory(), listen_options{.pending_accepts = 2});
    engine client;
    churn(client, l.local_endpoint(), 60);

    const platform_features server_features = server.features();
    const platform_features client_features = client.features();
    // What was reported matches what happened.
    EXPECT_EQ(server_features.disconnect_reuse_for_accept, server.stats().sockets_reused > 0);
    EXPECT_EQ(client_features.disconnect_reuse_for_connect, client.stats().sockets_reused > 0);
    RecordProperty("reuse_for_accept", server_features.disconnect_reuse_for_accept ? "yes" : "no");
    RecordProperty("reuse_for_connect", client_features.disconnect_reuse_for_connect ? "yes" : "no");
    // Reuse can only have worked where DisconnectEx completes.
    if (server_features.disconnect_reuse_for_accept) {
        EXPECT_TRUE(server_features.disconnect_ex_completes);
    }
    if (running_under_wine()) {
        // Probed under Wine 8: the DisconnectEx stays pending, even when cancelled or closed.
        ASSERT_TRUE(eventually([&] { return server.features().disconnect_ex_probed; }));
        EXPECT_FALSE(server.features().disconnect_ex_completes);
        EXPECT_FALSE(server.features().disconnect_reuse_for_accept);
        EXPECT_FALSE(client.features().disconnect_reuse_for_connect);
    } else {
        // Windows: the server closed passively, so its DisconnectEx completes and AcceptEx reuses.
        EXPECT_TRUE(server.features().disconnect_ex_completes);
    }
    EXPECT_EQ(client.stats().connect_failures, 0U);
}

TEST(Recycle, DisabledMeansNoReuse) {
    engine_options options;
    options.recycle_sockets = false;
    engine server(options);
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory(), listen_options{.pending_accepts = 2});
    engine client(options);
    churn(client, l.local_endpoint(), 10);
    EXPECT_EQ(server.stats().sockets_reused, 0U);
    EXPECT_EQ(client.stats().sockets_reused, 0U);
}

}  // namespace
}  // namespace wire::test
