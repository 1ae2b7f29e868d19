// Races the engine must survive: stop() against connections registered but not yet started,
// and events that must not overtake on_open.
#include "test_support.h"

#include <cstdio>

namespace wire::test {
namespace {

struct tally {
    std::atomic<int> created{0};
    std::atomic<int> opened{0};
    std::atomic<int> closed{0};
    std::atomic<int> open_after_close{0};
    std::atomic<int> double_close{0};
    std::atomic<int> returned{0};           // connect() calls that returned a handle
    std::atomic<int> destroyed_open{0};     // handler destroyed after on_open without on_close
};

class counting_handler : public connection_handler {
public:
    explicit counting_handler(tally& t) : t_(t) { ++t_.created; }
    ~counting_handler() override {
        if (opened_ && !closed_) {
            ++t_.destroyed_open;
        }
    }
    void on_open(connection&) override {
        opened_ = true;
        ++t_.opened;
        if (closed_) {
            ++t_.open_after_close;
        }
    }
    void on_data(connection& c, gsl::span<const std::byte> data) override { (void)c.send(data); }
    void on_close(connection&, std::error_code) override {
        if (closed_) {
            ++t_.double_close;
        }
        closed_ = true;
        ++t_.closed;
    }

private:
    tally& t_;
    bool closed_ = false;
    bool opened_ = false;
};

// A client engine is stopped while another thread keeps calling connect() (handles dropped at once).
TEST(Race, StopWhileAnotherThreadConnects) {
    engine server;
    tally server_tally;
    listener l = server.listen(endpoint::loopback_v4(0), [&] { return std::make_unique<counting_handler>(server_tally); },
                               listen_options{.pending_accepts = 64, .backlog = 1024});
    int bad = 0;
    for (int round = 0; round < 40 && bad == 0; ++round) {
        tally t;
        auto client = std::make_unique<engine>();
        std::atomic<bool> go{true};
        std::thread connector([&] {
            while (go) {
                try {
                    (void)client->connect(l.local_endpoint(), std::make_unique<counting_handler>(t));
                    ++t.returned;
                } catch (const std::system_error&) {
                    break;  // engine_stopped
                }
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + round % 7));
        client->stop();
        go = false;
        connector.join();
        const statistics s = client->stats();
        const bool ok = s.operations_pending == 0 && t.closed == t.returned && t.open_after_close == 0 &&
                        t.double_close == 0 && t.destroyed_open == 0;
        if (!ok) {
            ++bad;
            std::printf("round %d: returned=%d created=%d opened=%d closed=%d open_after_close=%d double_close=%d pending=%llu objects=%llu\n",
                        round, t.returned.load(), t.created.load(), t.opened.load(), t.closed.load(), t.open_after_close.load(),
                        t.double_close.load(), static_cast<unsigned long long>(s.operations_pending),
                        static_cast<unsigned long long>(s.connection_objects));
        }
        client.reset();
    }
    EXPECT_EQ(bad, 0);
}

// A server engine is stopped while clients keep connecting to it, so accepts are being handed over.
TEST(Race, StopWhileAcceptsAreHandedOver) {
    int bad = 0;
    for (int round = 0; round < 40 && bad == 0; ++round) {
        tally t;
        auto server = std::make_unique<engine>();
        listener l = server->listen(endpoint::loopback_v4(0), [&] { return std::make_unique<counting_handler>(t); },
                                    listen_options{.pending_accepts = 64, .backlog = 1024});
        const endpoint address = l.local_endpoint();
        std::atomic<bool> go{true};
        std::vector<std::thread> clients;
        for (int i = 0; i < 4; ++i) {
            clients.emplace_back([&] {
                while (go) {
                    blocking_client c(address);
                    if (!c.connected()) {
                        break;
                    }
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + round % 7));
        server->stop();
        go = false;
        for (auto& c : clients) {
            c.join();
        }
        const statistics s = server->stats();
        const bool ok = s.operations_pending == 0 && t.closed == t.opened && t.open_after_close == 0 &&
                        t.double_close == 0 && t.destroyed_open == 0;
        if (!ok) {
            ++bad;
            std::printf("round %d: created=%d opened=%d closed=%d open_after_close=%d double_close=%d pending=%llu\n",
                        round, t.created.load(), t.opened.load(), t.closed.load(), t.open_after_close.load(),
                        t.double_close.load(), static_cast<unsigned long long>(s.operations_pending));
        }
        l.close();
        server.reset();
    }
    EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace wire::test

namespace wire::test {
namespace {

// on_open must come "before any other event": a drained notice earned by bytes queued while
// connecting must not run while on_open is still running on another worker.
TEST(Race, DrainedDoesNotOvertakeOnOpen) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    engine_options options;
    options.worker_threads = 4;
    engine client(options);
    struct state {
        std::atomic<bool> in_open{false};
        std::atomic<bool> opened{false};
        std::atomic<int> drained_during_open{0};
        std::atomic<int> drained{0};
    } st;
    class slow_open : public connection_handler {
    public:
        explicit slow_open(state& s) : s_(s) {}
        void on_open(connection&) override {
            s_.in_open = true;
            s_.opened = true;
            // A slow but legitimate on_open (bounded): it ends as soon as any on_drained has run.
            eventually([&] { return s_.drained.load() > 0; }, 1s);
            s_.in_open = false;
        }
        void on_data(connection&, gsl::span<const std::byte>) override {}
        void on_drained(connection&) override {
            ++s_.drained;
            if (s_.in_open) {
                ++s_.drained_during_open;
            }
        }

    private:
        state& s_;
    };
    connection c = client.connect(l.local_endpoint(), std::make_unique<slow_open>(st));
    ASSERT_FALSE(c.send(random_bytes(8 << 20, 1)));                               // queue empty: accepted
    ASSERT_EQ(c.send(random_bytes(4 << 20, 2)), error::send_queue_full);          // refused: a drain is owed
    ASSERT_TRUE(eventually([&] { return st.opened.load(); }));
    (void)c.send(random_bytes(1, 3));  // from this thread, while on_open still runs: starts the WSASend
    ASSERT_TRUE(eventually([&] { return st.drained.load() > 0; }));
    EXPECT_EQ(st.drained_during_open.load(), 0) << "on_drained ran while on_open was still running";
    c.close();
}

}  // namespace
}  // namespace wire::test
