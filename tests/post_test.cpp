// Work handed to the engine's threads: engine::post, and connection::post serialised with the
// connection's own callbacks (a strand without a separate object).
#include "test_support.h"

#include <functional>

namespace wire::test {
namespace {

TEST(Post, WorkFromManyThreadsRunsOnTheWorkersExactlyOnce) {
    engine e;
    constexpr int threads = 4;
    constexpr int per_thread = 500;
    std::atomic<int> ran{0};
    std::atomic<int> on_poster_thread{0};
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t) {
        posters.emplace_back([&] {
            const DWORD me = ::GetCurrentThreadId();
            for (int i = 0; i < per_thread; ++i) {
                ASSERT_FALSE(e.post([&, me] {
                    if (::GetCurrentThreadId() == me) {
                        ++on_poster_thread;
                    }
                    ++ran;
                }));
            }
        });
    }
    for (auto& p : posters) {
        p.join();
    }
    ASSERT_TRUE(eventually([&] { return ran.load() == threads * per_thread; }));
    EXPECT_EQ(on_poster_thread.load(), 0);
    expect_stopped_clean(e);
    EXPECT_EQ(ran.load(), threads * per_thread);  // never twice
}

TEST(Post, WorkAcceptedBeforeStopRunsBeforeStopReturnsAndLaterWorkIsRefused) {
    std::atomic<int> ran{0};
    engine e;
    constexpr int count = 300;
    for (int i = 0; i < count; ++i) {
        ASSERT_FALSE(e.post([&] { ++ran; }));
    }
    e.stop();
    EXPECT_EQ(ran.load(), count);
    auto captured = std::make_shared<int>(0);
    EXPECT_EQ(e.post([captured] {}), make_error_code(error::engine_stopped));
    EXPECT_EQ(captured.use_count(), 1);  // refused work is dropped, not kept
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

TEST(Post, WorkPostedFromInsideACallbackDuringStopIsRefusedNotLost) {
    std::atomic<int> refused{0};
    std::atomic<int> ran{0};
    engine e;
    std::atomic<bool> go{false};
    ASSERT_FALSE(e.post([&] {
        while (!go) {
            std::this_thread::yield();
        }
        // stop() has begun on the main thread: this is refused, and reported.
        if (e.post([&] { ++ran; }) == make_error_code(error::engine_stopped)) {
            ++refused;
        }
    }));
    std::thread stopper([&] { e.stop(); });
    ASSERT_TRUE(eventually([&] { return e.post([] {}) == make_error_code(error::engine_stopped); }));
    go = true;
    stopper.join();
    EXPECT_EQ(refused.load() + ran.load(), 1);
    EXPECT_EQ(refused.load(), 1);
}

// Records whether two of one connection's callbacks (posted work included) ever overlap.
struct serial_check {
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> posted_ran{0};
    std::atomic<int> after_close{0};
    std::atomic<bool> closed{false};
    std::atomic<std::uint64_t> echoed{0};

    void enter() {
        if (inside.fetch_add(1) != 0) {
            ++overlaps;
        }
        if (closed) {
            ++after_close;
        }
        // Widens the window an overlap would need by 20 µs of this thread's time, spent here
        // rather than in yields: under load a yield gives the CPU away for a whole time slice.
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
        while (std::chrono::steady_clock::now() < until) {
        }
    }
    void leave() { inside.fetch_sub(1); }
};

class serial_echo : public connection_handler {
public:
    explicit serial_echo(std::shared_ptr<serial_check> check, std::shared_ptr<recorder> handle_out)
        : check_(std::move(check)), handle_out_(std::move(handle_out)) {}
    void on_open(connection& c) override {
        check_->enter();
        {
            std::lock_guard lock(handle_out_->mutex);
            handle_out_->conn = c;
        }
        check_->leave();
    }
    void on_data(connection& c, gsl::span<const std::byte> data) override {
        check_->enter();
        (void)c.send(data);
        check_->echoed += data.size();
        check_->leave();
    }
    void on_drained(connection&) override {
        check_->enter();
        check_->leave();
    }
    void on_close(connection&, std::error_code) override {
        check_->enter();
        check_->closed = true;
        check_->leave();
        std::lock_guard lock(handle_out_->mutex);
        handle_out_->conn = {};
    }

private:
    std::shared_ptr<serial_check> check_;
    std::shared_ptr<recorder> handle_out_;
};


// Posted work that takes part in the overlap check and counts its runs.
std::function<void(connection&)> counted_work(const std::shared_ptr<serial_check>& check) {
    return [check](connection&) {
        check->enter();
        ++check->posted_ran;
        check->leave();
    };
}

TEST(Post, ConnectionWorkIsSerialisedWithOnDataFromManyThreads) {
    engine_options options;
    options.worker_threads = 4;  // more workers than cores: overlaps would have every chance
    engine e(options);
    auto check = std::make_shared<serial_check>();
    auto handle = std::make_shared<recorder>();
    listener l = e.listen(endpoint::loopback_v4(0),
                          [check, handle] { return std::make_unique<serial_echo>(check, handle); });
    blocking_client client(l.local_endpoint());
    connection c = published_handle(*handle);
    ASSERT_TRUE(c);
    std::atomic<int> accepted{0};
    std::atomic<bool> echoing{true};
    std::atomic<bool> work_stalled{false};
    std::vector<std::thread> posters;
    for (int t = 0; t < 3; ++t) {
        posters.emplace_back([&] {
            // At least 300 each (not cut short however soon the echo ends), and on while it runs, up
            // to 2,000, with at most 64 of all posters' items waiting. A post costs no system call
            // on the strand, so unbounded posters queue thousands of items in microseconds, and the
            // strand runs them in order: each echo waited behind all of them, over 60 s with both
            // cores busy (when each item yielded 50 times). Bounded, the echo waits behind at most
            // 64 while work and data still meet on the strand from four workers.
            for (int i = 0; i < 300 || (echoing && i < 2'000); ++i) {
                if (!eventually([&] { return accepted.load() - check->posted_ran.load() <= 64; }, 60s)) {
                    work_stalled = true;  // the strand stopped running the work: reported below
                    return;
                }
                if (!c.post(counted_work(check))) {
                    ++accepted;
                }
            }
        });
    }
    std::uint32_t rounds_echoed = 0;  // the posters are joined before anything is asserted
    for (; rounds_echoed < 60; ++rounds_echoed) {
        const auto message = random_bytes(256, rounds_echoed);
        if (!client.send_all(message) || client.receive_exactly(message.size()) != message) {
            break;
        }
    }
    echoing = false;
    for (auto& p : posters) {
        p.join();
    }
    ASSERT_EQ(rounds_echoed, 60U);
    EXPECT_FALSE(work_stalled.load());
    ASSERT_TRUE(eventually([&] { return check->posted_ran.load() == accepted.load(); }));
    EXPECT_GT(accepted.load(), 0);
    c = {};
    client.close();
    ASSERT_TRUE(eventually([&] { return check->closed.load(); }));
    EXPECT_EQ(check->overlaps.load(), 0);
    EXPECT_EQ(check->after_close.load(), 0);
    expect_stopped_clean(e);
}

TEST(Post, WorkPostedBeforeACloseRunsBeforeOnCloseAndLaterWorkIsRefused) {
    engine e;
    auto check = std::make_shared<serial_check>();
    auto handle = std::make_shared<recorder>();
    listener l = e.listen(endpoint::loopback_v4(0),
                          [check, handle] { return std::make_unique<serial_echo>(check, handle); });
    blocking_client client(l.local_endpoint());
    connection c = published_handle(*handle);
    ASSERT_TRUE(c);
    for (int i = 0; i < 20; ++i) {
        ASSERT_FALSE(c.post(counted_work(check)));
    }
    c.abort();
    EXPECT_EQ(c.post([](connection&) {}), make_error_code(error::not_connected));
    ASSERT_TRUE(eventually([&] { return check->closed.load(); }));
    EXPECT_EQ(check->posted_ran.load(), 20);  // all before on_close (after_close counts any later)
    EXPECT_EQ(check->after_close.load(), 0);
    EXPECT_EQ(connection{}.post([](connection&) {}), make_error_code(error::not_connected));
    c = {};
    expect_stopped_clean(e);
}

}  // namespace
}  // namespace wire::test
