// stop() with work in flight: prompt, every close callback exactly once, nothing leaked.
#include "test_support.h"

namespace wire::test {
namespace {

// Keeps a connection busy: sends a message, and another each time one comes back.
class chatty_handler : public connection_handler {
public:
    explicit chatty_handler(std::atomic<int>& closes) : closes_(closes) {}
    void on_open(connection& c) override { (void)c.send(random_bytes(4096, 9)); }
    void on_data(connection& c, gsl::span<const std::byte> data) override { (void)c.send(data); }
    void on_close(connection&, std::error_code) override {
        ++closes_;
        ++calls_;
        EXPECT_EQ(calls_, 1);
    }

private:
    std::atomic<int>& closes_;
    int calls_ = 0;
};

TEST(Stop, HundredConnectionsMidTransfer) {
    constexpr int count = 100;
    std::atomic<int> server_closes{0};
    std::atomic<int> server_opens{0};
    std::atomic<int> client_closes{0};
    class counted_echo : public echo_handler {
    public:
        counted_echo(std::atomic<int>& opens, std::atomic<int>& closes) : opens_(opens), closes_(closes) {}
        void on_open(connection&) override { ++opens_; }
        void on_close(connection&, std::error_code reason) override {
            EXPECT_EQ(reason, error::engine_stopped) << reason.message();
            ++closes_;
        }

    private:
        std::atomic<int>& opens_;
        std::atomic<int>& closes_;
    };
    auto server = std::make_unique<engine>();
    listener l = server->listen(endpoint::loopback_v4(0),
                                [&] { return std::make_unique<counted_echo>(server_opens, server_closes); });
    engine client;
    std::vector<connection> conns;
    for (int i = 0; i < count; ++i) {
        conns.push_back(client.connect(l.local_endpoint(), std::make_unique<chatty_handler>(client_closes)));
    }
    ASSERT_TRUE(eventually([&] { return server_opens.load() == count; }));
    const auto before = server->stats().bytes_received;
    ASSERT_TRUE(eventually([&] { return server->stats().bytes_received > before + 1'000'000; }));  // mid-transfer

    server->stop();
    EXPECT_EQ(server_closes.load(), count);
    const statistics s = server->stats();
    EXPECT_EQ(s.connections_open, 0U);
    EXPECT_EQ(s.operations_pending, 0U);
    EXPECT_EQ(s.connection_objects, 0U);  // the server kept no handles: every object is gone
    server->stop();  // idempotent
    server.reset();
    l.close();  // a listener handle outliving its engine is harmless

    ASSERT_TRUE(eventually([&] { return client_closes.load() == count; }));
    conns.clear();
    client.stop();
    EXPECT_EQ(client.stats().connection_objects, 0U);
    EXPECT_EQ(client.stats().operations_pending, 0U);
}

TEST(Stop, IdleEngineStopsAndRestartsCleanly) {
    for (int i = 0; i < 3; ++i) {
        engine e;
        listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
        e.stop();
        EXPECT_EQ(e.stats().operations_pending, 0U);
        EXPECT_THROW((void)e.listen(endpoint::loopback_v4(0), echo_factory()), std::system_error);
    }
}

TEST(Stop, StopFromInsideACallbackDoesNotDeadlock) {
    // A callback calls stop() while the owner thread is not inside stop() or ~engine: the call
    // begins the stop and returns (it cannot wait for the workers it runs on); the connection is
    // closed with engine_stopped, exactly once; the owner's later stop() finishes the job.
    // (With the owner already inside stop(), see lifecycle_test.cpp's StopInsideCallback.)
    watchdog dog("StopFromInsideACallbackDoesNotDeadlock", 20s);
    std::atomic<int> stops_returned{0};
    std::atomic<int> closes{0};
    std::atomic<int> after_close{0};
    std::mutex reason_mutex;
    std::error_code reason;
    auto e = std::make_unique<engine>();
    class stopper : public connection_handler {
    public:
        stopper(engine& en, std::atomic<int>& stops, std::atomic<int>& closes, std::atomic<int>& after_close,
                std::mutex& reason_mutex, std::error_code& reason)
            : e_(en), stops_(stops), closes_(closes), after_close_(after_close), reason_mutex_(reason_mutex),
              reason_(reason) {}
        void on_data(connection&, gsl::span<const std::byte>) override {
            after_close_ += closes_.load();
            e_.stop();  // begins the stop; returns although the workers are still running
            ++stops_;
        }
        void on_close(connection&, std::error_code why) override {
            after_close_ += closes_.load();
            {
                std::lock_guard lock(reason_mutex_);
                reason_ = why;
            }
            ++closes_;
        }

    private:
        engine& e_;
        std::atomic<int>& stops_;
        std::atomic<int>& closes_;
        std::atomic<int>& after_close_;
        std::mutex& reason_mutex_;
        std::error_code& reason_;
    };
    listener l = e->listen(endpoint::loopback_v4(0), [&] {
        return std::make_unique<stopper>(*e, stops_returned, closes, after_close, reason_mutex, reason);
    });
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(client.send_all(random_bytes(1, 1)));
    ASSERT_TRUE(eventually([&] { return stops_returned.load() == 1; }));  // it returned: no deadlock
    // The stop is under way: no new listener, the connection closes with engine_stopped.
    EXPECT_THROW((void)e->listen(endpoint::loopback_v4(0), echo_factory()), std::system_error);
    auto [data, clean] = client.receive_to_end();  // the client sees its connection end
    (void)clean;
    EXPECT_TRUE(data.empty());
    client.shutdown_send();  // our FIN: the engine's graceful close completes without its deadline
    ASSERT_TRUE(eventually([&] { return closes.load() == 1; }));
    {
        std::lock_guard lock(reason_mutex);
        EXPECT_EQ(reason, error::engine_stopped) << reason.message();
    }
    e->stop();  // the owner finishes what the callback began
    const statistics s = e->stats();
    EXPECT_EQ(s.connections_open, 0U);
    EXPECT_EQ(s.operations_pending, 0U);
    EXPECT_EQ(s.connection_objects, 0U);
    EXPECT_EQ(closes.load(), 1);
    EXPECT_EQ(after_close.load(), 0);
    EXPECT_EQ(stops_returned.load(), 1);
    e.reset();
}

}  // namespace
}  // namespace wire::test
