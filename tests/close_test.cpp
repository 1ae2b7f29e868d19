// How connections end: peer FIN, peer reset, half-close, local graceful close and local abort.
// Each reports its reason through on_close exactly once, and nothing follows on_close.
#include "test_support.h"

namespace wire::test {
namespace {

// A listener whose connections are recorded (and echo, so the peer can read back).
class recorded_server {
public:
    explicit recorded_server(engine& e) {
        l_ = e.listen(endpoint::loopback_v4(0), [this] {
            auto rec = std::make_shared<recorder>();
            {
                std::lock_guard lock(mutex_);
                recs_.push_back(rec);
            }
            return std::make_unique<echoing_recorder>(rec);
        });
    }
    [[nodiscard]] endpoint address() const { return l_.local_endpoint(); }
    std::shared_ptr<recorder> wait_first() {
        std::shared_ptr<recorder> out;
        eventually([&] {
            std::lock_guard lock(mutex_);
            if (!recs_.empty()) {
                out = recs_.front();
            }
            return out != nullptr;
        });
        return out;
    }

private:
    class echoing_recorder : public recording_handler {
    public:
        using recording_handler::recording_handler;
        void on_data(connection& c, gsl::span<const std::byte> data) override {
            recording_handler::on_data(c, data);
            (void)c.send(data);
        }
    };
    std::mutex mutex_;
    std::vector<std::shared_ptr<recorder>> recs_;
    listener l_;
};

bool is_reset(std::error_code ec) {
    return ec == std::error_code(WSAECONNRESET, std::system_category()) ||
           ec == std::error_code(WSAECONNABORTED, std::system_category());
}

TEST(Close, PeerGracefulCloseReportsEndOfStreamAfterTheData) {
    engine e;
    recorded_server server(e);
    blocking_client client(server.address());
    ASSERT_TRUE(client.connected());
    const auto payload = random_bytes(5000, 3);
    ASSERT_TRUE(client.send_all(payload));
    client.shutdown_send();
    auto [echoed, clean] = client.receive_to_end();  // the echo is flushed before the server's FIN
    EXPECT_TRUE(clean);
    EXPECT_EQ(echoed, payload);
    auto rec = server.wait_first();
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_EQ(rec->reason, error::end_of_stream);
    EXPECT_EQ(rec->received, payload);
    EXPECT_EQ(rec->closed, 1);
    EXPECT_EQ(rec->events_after_close, 0);
}

TEST(Close, HalfClosedPeerStillReadsEverything) {
    // The peer stops sending at once but keeps reading: all of a large echo still reaches it.
    engine e;
    recorded_server server(e);
    blocking_client client(server.address());
    const auto payload = random_bytes(3 << 20, 4);
    std::thread writer([&] {
        client.send_all(payload);
        client.shutdown_send();
    });
    auto [echoed, clean] = client.receive_to_end();
    writer.join();
    EXPECT_TRUE(clean);
    EXPECT_EQ(echoed.size(), payload.size());
    EXPECT_TRUE(echoed == payload);
}

TEST(Close, PeerResetIsReportedAsResetOrEndOfStream) {
    engine e;
    recorded_server server(e);
    blocking_client client(server.address());
    const auto payload = random_bytes(100, 5);
    ASSERT_TRUE(client.send_all(payload));
    EXPECT_EQ(client.receive_exactly(payload.size()), payload);
    client.reset();
    auto rec = server.wait_first();
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    // Wine reports a reset only to a receive pending when it arrives (see DESIGN.md).
    EXPECT_TRUE(is_reset(rec->reason) || rec->reason == error::end_of_stream) << rec->reason.message();
    EXPECT_EQ(rec->closed, 1);
}

TEST(Close, LocalGracefulCloseFlushesQueuedBytesThenFin) {
    engine e;
    const auto payload = random_bytes(2 << 20, 6);
    auto rec = std::make_shared<recorder>();
    class send_then_close : public recording_handler {
    public:
        send_then_close(std::shared_ptr<recorder> r, const std::vector<std::byte>& p) : recording_handler(std::move(r)), p_(p) {}
        void on_open(connection& c) override {
            recording_handler::on_open(c);
            EXPECT_FALSE(c.send(p_));
            c.close();
            EXPECT_EQ(c.send(p_), error::not_connected);  // closing: nothing more is accepted
        }

    private:
        const std::vector<std::byte>& p_;
    };
    listener l = e.listen(endpoint::loopback_v4(0), [&] { return std::make_unique<send_then_close>(rec, payload); });
    blocking_client client(l.local_endpoint());
    auto [received, clean] = client.receive_to_end();
    EXPECT_TRUE(clean);
    EXPECT_TRUE(received == payload);
    client.close();
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_FALSE(rec->reason) << rec->reason.message();
}

TEST(Close, LocalAbortResetsThePeer) {
    engine e;
    recorded_server server(e);
    blocking_client client(server.address());
    ASSERT_TRUE(client.send_all(random_bytes(10, 7)));
    auto rec = server.wait_first();
    ASSERT_TRUE(eventually([&] { return rec->received_size() == 10; }));
    connection c;
    {
        std::lock_guard lock(rec->mutex);
        c = rec->conn;
    }
    c.abort();
    auto [rest, clean] = client.receive_to_end();
    // The echo may or may not have left before the reset: a reset discards what the socket has not
    // sent yet (Windows and Linux alike; Wine 10's full run once got none of it).
    EXPECT_TRUE(rest.empty() || rest.size() == 10U) << rest.size();
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_EQ(rec->reason, error::aborted);
    EXPECT_FALSE(c.is_open());
    EXPECT_EQ(c.send(random_bytes(1, 1)), error::not_connected);
}

TEST(Close, HandleOutlivesEngineSafely) {
    connection kept;
    auto rec = std::make_shared<recorder>();
    {
        engine e;
        listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
        kept = e.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec));
        ASSERT_TRUE(eventually([&] { return kept.is_open(); }));
    }  // listener, then engine destroyed with the connection open
    EXPECT_TRUE(rec->is_closed());
    // Both ends live in the one engine: stop() may close the server end first, and this end then
    // sees the FIN before its own close.
    EXPECT_TRUE(rec->reason == error::engine_stopped || rec->reason == error::end_of_stream) << rec->reason.message();
    EXPECT_EQ(kept.send(random_bytes(4, 4)), error::not_connected);
    kept.close();
    kept.abort();
}

// A handler that pauses receiving after asking to close must not keep the peer's FIN from being
// seen: the close completes cleanly instead of by its close_timeout. (Found in review: pause_receiving
// undid the receive enter_closing makes sure of; the close then always ended timed_out.)
TEST(Close, PausingAfterCloseStillSeesThePeersFin) {
    engine_options options;
    options.close_timeout = 3s;  // how long a failure takes
    engine e(options);
    auto reasons = std::make_shared<recorder>();
    class close_then_pause : public connection_handler {
    public:
        explicit close_then_pause(std::shared_ptr<recorder> r) : r_(std::move(r)) {}
        void on_data(connection& c, gsl::span<const std::byte> data) override {
            (void)c.send(data);
            c.close();
            c.pause_receiving();
        }
        void on_close(connection&, std::error_code reason) override {
            std::lock_guard lock(r_->mutex);
            ++r_->closed;
            r_->reason = reason;
        }

    private:
        std::shared_ptr<recorder> r_;
    };
    listener l = e.listen(endpoint::loopback_v4(0), [&] { return std::make_unique<close_then_pause>(reasons); });
    blocking_client client(l.local_endpoint());
    const auto payload = random_bytes(16, 1);
    ASSERT_TRUE(client.send_all(payload));
    auto [echoed, clean] = client.receive_to_end();  // the echo, then the server's FIN
    EXPECT_TRUE(clean);
    EXPECT_EQ(echoed, payload);
    client.close();  // our FIN: the server's graceful close completes on it
    ASSERT_TRUE(eventually([&] { return reasons->is_closed(); }));
    std::lock_guard lock(reasons->mutex);
    EXPECT_FALSE(reasons->reason) << reasons->reason.message();
}

}  // namespace
}  // namespace wire::test
