// A connection's strand (issue 23): a connection whose callbacks, posted work and timers are all
// busy holds at most one worker, never the engine. The busy connection's callbacks wait on a gate
// the test opens, so "busy" lasts exactly as long as the test needs, whatever the machine's load.
#include "test_support.h"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <numeric>

namespace wire::test {
namespace {

// Holds every callback that enters it until opened (or until `limit`, so that a defect shows as a
// failed assertion rather than a hung suite), and records whether two of them overlapped.
class gate {
public:
    void pass() {
        if (inside_.fetch_add(1) != 0) {
            ++overlaps_;
        }
        ++entered_;
        {
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, limit, [this] { return open_; });
        }
        inside_.fetch_sub(1);
    }
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        changed_.notify_all();
    }
    [[nodiscard]] bool is_open() {
        std::lock_guard lock(mutex_);
        return open_;
    }
    [[nodiscard]] int entered() const { return entered_.load(); }
    [[nodiscard]] int overlaps() const { return overlaps_.load(); }

    static constexpr auto limit = 60s;

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
    std::atomic<int> inside_{0};
    std::atomic<int> entered_{0};
    std::atomic<int> overlaps_{0};
};

// The busy connection's server side: every on_data waits at the gate, then echoes.
class gated_echo : public connection_handler {
public:
    gated_echo(std::shared_ptr<gate> g, std::shared_ptr<recorder> handle_out)
        : gate_(std::move(g)), handle_out_(std::move(handle_out)) {}
    void on_open(connection& c) override {
        std::lock_guard lock(handle_out_->mutex);
        handle_out_->conn = c;
    }
    void on_data(connection& c, gsl::span<const std::byte> data) override {
        gate_->pass();
        (void)c.send(data);
    }
    void on_close(connection&, std::error_code) override {
        std::lock_guard lock(handle_out_->mutex);
        handle_out_->conn = {};
        ++handle_out_->closed;
    }

private:
    std::shared_ptr<gate> gate_;
    std::shared_ptr<recorder> handle_out_;
};

// One connection of `e` whose strand is busy: its first on_data waits at `gate` until the test
// opens it.
struct busy_connection {
    // Declared first: the members after them are built from them.
    std::shared_ptr<test::gate> gate = std::make_shared<test::gate>();
    std::shared_ptr<recorder> handle = std::make_shared<recorder>();

    explicit busy_connection(engine& e)
        : listen(e.listen(endpoint::loopback_v4(0), [g = gate, h = handle] { return std::make_unique<gated_echo>(g, h); })),
          client(listen.local_endpoint()),
          c(published_handle(*handle)) {}
    ~busy_connection() { gate->open(); }  // a test that stopped early does not leave on_data waiting
    busy_connection(const busy_connection&) = delete;
    busy_connection& operator=(const busy_connection&) = delete;
    // The peer's first bytes have reached on_data, which now waits at the gate.
    [[nodiscard]] bool started() {
        return c && client.send_all(random_bytes(8, 2)) && eventually([&] { return gate->entered() == 1; });
    }
    void close() {
        gate->open();
        c = {};
        client.close();
        EXPECT_TRUE(eventually([&] { return handle->is_closed(); }));
    }

    listener listen;
    blocking_client client;
    connection c;
};

std::chrono::microseconds percentile(std::vector<std::chrono::microseconds> samples, double p) {
    std::sort(samples.begin(), samples.end());
    return samples[std::min(samples.size() - 1, static_cast<std::size_t>(p * static_cast<double>(samples.size())))];
}

// Failed on the engine before the strand queued (3 of 3, 0 round trips while the gate was shut):
// the busy connection's posted work parked the other three workers on its callbacks lock.
TEST(Strand, AConnectionBusyInItsCallbacksHoldsOneWorkerWhileAnotherConnectionsRoundTripsGoOn) {
    engine_options options;
    options.worker_threads = 4;
    engine e(options);
    auto busy_gate = std::make_shared<gate>();
    auto busy_handle = std::make_shared<recorder>();
    std::atomic<int> accepted{0};
    listener l = e.listen(endpoint::loopback_v4(0), [&, busy_gate, busy_handle]() -> std::unique_ptr<connection_handler> {
        if (accepted.fetch_add(1) == 0) {
            return std::make_unique<gated_echo>(busy_gate, busy_handle);  // the first is the busy one
        }
        return std::make_unique<echo_handler>();
    });

    blocking_client busy_client(l.local_endpoint());
    connection busy = published_handle(*busy_handle);
    ASSERT_TRUE(busy);
    const auto request = random_bytes(64, 1);
    ASSERT_TRUE(busy_client.send_all(request));
    ASSERT_TRUE(eventually([&] { return busy_gate->entered() == 1; }));  // on_data waits at the gate

    // Posted work and a timer for the busy connection, all waiting at the same gate: on a worker
    // that must wait for the strand, each of them would hold one more worker.
    constexpr int posted = 12;
    for (int i = 0; i < posted; ++i) {
        ASSERT_FALSE(busy.post([busy_gate](connection&) { busy_gate->pass(); }));
    }
    std::atomic<int> ticks{0};
    timer ticker = busy.every(1ms, [busy_gate, &ticks](connection&) {
        ++ticks;
        busy_gate->pass();
    });
    ASSERT_TRUE(ticker);

    // Meanwhile, another connection's round trips.
    blocking_client fast(l.local_endpoint());
    ASSERT_TRUE(fast.connected());
    constexpr int round_trips = 200;
    std::vector<std::chrono::microseconds> latencies;
    latencies.reserve(round_trips);
    int completed = 0;
    for (std::uint32_t i = 0; i < round_trips; ++i) {
        const auto message = random_bytes(64, 100 + i);
        const auto sent_at = std::chrono::steady_clock::now();
        if (!fast.send_all(message) || fast.receive_exactly(message.size()) != message) {
            break;
        }
        latencies.push_back(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - sent_at));
        ++completed;
        if (busy_gate->is_open()) {
            break;  // the gate's limit opened it: the round trips waited for the busy connection
        }
    }
    const bool busy_throughout = !busy_gate->is_open();
    EXPECT_EQ(completed, round_trips);
    EXPECT_TRUE(busy_throughout) << "the round trips finished only once the busy connection's callbacks were let go";
    EXPECT_EQ(busy_gate->entered(), 1) << "the busy connection's work ran beside its on_data";
    if (!latencies.empty()) {
        // Reported, not asserted (tests assert behaviour, not timing); the target is a p99
        // under 50 ms under Wine.
        std::cout << "[ strand ] " << completed << " round trips beside a busy connection: p50 "
                  << percentile(latencies, 0.50).count() << " us, p99 " << percentile(latencies, 0.99).count()
                  << " us, max " << std::max_element(latencies.begin(), latencies.end())->count() << " us\n";
    }

    // Let go: everything the busy connection was given runs, one at a time, in turn.
    ticker.cancel();
    busy_gate->open();
    ASSERT_EQ(busy_client.receive_exactly(request.size()), request);
    ASSERT_TRUE(eventually([&] { return busy_gate->entered() >= 1 + posted; }));
    EXPECT_EQ(busy_gate->overlaps(), 0);
    busy = {};
    busy_client.close();
    ASSERT_TRUE(eventually([&] { return busy_handle->is_closed(); }));
    fast.close();
    expect_stopped_clean(e);
}

// timer.h: cancel() returning true for a periodic timer means it does not run again, also when a
// run of it already waits on the busy strand. Failed before (that run went ahead after the cancel).
TEST(Strand, APeriodicTimerCancelledWhileItsRunWaitsOnTheStrandDoesNotRunAgain) {
    engine e;
    busy_connection busy(e);
    ASSERT_TRUE(busy.started());
    auto ticks = std::make_shared<std::atomic<int>>(0);
    timer ticker = busy.c.every(1ms, [ticks](connection&) { ++*ticks; });
    ASSERT_TRUE(ticker);
    std::this_thread::sleep_for(100ms);  // it comes due meanwhile: its run waits behind on_data
    EXPECT_TRUE(ticker.cancel());
    busy.gate->open();
    auto drained = std::make_shared<std::atomic<bool>>(false);
    ASSERT_FALSE(busy.c.post([drained](connection&) { *drained = true; }));  // runs after what waited
    ASSERT_TRUE(eventually([&] { return drained->load(); }));
    EXPECT_EQ(ticks->load(), 0);
    busy.close();
    expect_stopped_clean(e);
}

// The busy strand's queued work keeps its order: posts from one thread run in the order posted.
TEST(Strand, WorkPostedWhileTheStrandIsBusyRunsInTheOrderPosted) {
    engine_options options;
    options.worker_threads = 4;
    engine e(options);
    busy_connection busy(e);
    ASSERT_TRUE(busy.started());

    auto order = std::make_shared<std::vector<int>>();  // written only on the strand
    constexpr int items = 500;
    for (int i = 0; i < items; ++i) {
        ASSERT_FALSE(busy.c.post([order, i](connection&) { order->push_back(i); }));
    }
    std::vector<int> expected(items);
    std::iota(expected.begin(), expected.end(), 0);
    auto in_order = std::make_shared<std::atomic<int>>(-1);  // -1: not looked yet
    ASSERT_FALSE(busy.c.post([in_order, order, expected](connection&) { *in_order = *order == expected ? 1 : 0; }));
    busy.gate->open();
    ASSERT_TRUE(eventually([&] { return in_order->load() != -1; }));
    EXPECT_EQ(in_order->load(), 1);
    busy.close();
    expect_stopped_clean(e);
}

}  // namespace
}  // namespace wire::test
