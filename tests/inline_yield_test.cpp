// When a run of synchronous (skip-on-success) completions yields through the port: only when other
// work may be waiting for its worker (completion_port::should_yield). A yield costs a post and a
// dequeue and may move the connection to another thread; with a worker free to take new packets
// it buys no fairness.
#include "fault_platform.h"
#include "test_support.h"
#include "win/completion_port.h"
#include "win/engine_counters.h"

#include <atomic>
#include <memory>
#include <thread>

namespace wire::test {
namespace {

// ---- the rule itself, on a port of its own ---------------------------------------------------

class YieldRule : public ::testing::Test {
protected:
    detail::engine_counters counters;
    detail::timer_queue timers;
    detail::completion_port port{2, true, counters, timers};

    void TearDown() override { detail::completion_port::set_batch_left(0); }
};

TEST_F(YieldRule, NoWorkerWaitingMeansYield) {
    EXPECT_TRUE(port.should_yield());
}

TEST_F(YieldRule, AWaitingWorkerWithNothingLeftInTheBatchMeansGoOn) {
    port.begin_wait();
    EXPECT_FALSE(port.should_yield());
    port.end_wait();
    EXPECT_TRUE(port.should_yield());
}

TEST_F(YieldRule, CompletionsLeftInThisWorkersBatchMeanYieldEvenWithAWorkerWaiting) {
    port.begin_wait();
    detail::completion_port::set_batch_left(3);
    EXPECT_TRUE(port.should_yield());
    detail::completion_port::set_batch_left(0);
    EXPECT_FALSE(port.should_yield());
    port.end_wait();
}

TEST_F(YieldRule, ADueTimerMeansYieldEvenWithAWorkerWaiting) {
    port.begin_wait();
    const auto id = timers.schedule(detail::timer_queue::clock::now() + std::chrono::hours(1), [] {});
    EXPECT_FALSE(port.should_yield());  // a timer that is not due yet leaves the run alone
    EXPECT_TRUE(timers.cancel(id));
    timers.schedule(detail::timer_queue::clock::now() - std::chrono::milliseconds(1), [] {});
    EXPECT_TRUE(port.should_yield());
    port.end_wait();
}

TEST_F(YieldRule, WorkHeldByACallingFrameMeansYieldUntilItsScopeEnds) {
    port.begin_wait();
    {
        const detail::completion_port::holding_work holding(true);
        EXPECT_TRUE(port.should_yield());
        {
            const detail::completion_port::holding_work not_holding(false);
            EXPECT_TRUE(port.should_yield());
        }
        EXPECT_TRUE(port.should_yield());
    }
    EXPECT_FALSE(port.should_yield());
    port.end_wait();
}

TEST_F(YieldRule, TheBatchCountBelongsToTheCallingThread) {
    port.begin_wait();
    detail::completion_port::set_batch_left(5);
    bool elsewhere = true;
    std::thread other([&] { elsewhere = port.should_yield(); });
    other.join();
    EXPECT_FALSE(elsewhere);  // another thread has no batch of this worker's to wait behind
    EXPECT_TRUE(port.should_yield());
    port.end_wait();
}

// ---- an engine: a connection whose receives keep finishing at once ----------------------------

// Counts bytes and says when `expected` have come; sends nothing back, so that every call the
// connection makes is a receive.
struct byte_count {
    std::atomic<std::size_t> received{0};
};

class counting_handler final : public connection_handler {
public:
    explicit counting_handler(std::shared_ptr<byte_count> count) : count_(std::move(count)) {}
    void on_data(connection&, gsl::span<const std::byte> data) override { count_->received += data.size(); }

private:
    std::shared_ptr<byte_count> count_;
};

struct run_counts {
    std::uint64_t inline_completions = 0;
    std::uint64_t posts = 0;
};

// Sends `total` bytes to an engine with `workers` workers whose receives take 512 bytes (2 KiB once
// bulk), and counts the inline completions and the posts made while they were received.
run_counts stream_into_engine(unsigned workers, std::size_t total) {
    fault_platform platform;
    engine_options options;
    options.worker_threads = workers;
    options.max_inline_completions = 2;  // a run reaches the cap after two receives
    options.receive_buffer_size = 512;   // many receives for the bytes sent
    engine e(options);
    auto count = std::make_shared<byte_count>();
    listener l = e.listen(endpoint::loopback_v4(0), [count] { return std::make_unique<counting_handler>(count); });
    blocking_client client(l.local_endpoint());
    // The connection is open and its first receive issued before counting starts.
    EXPECT_TRUE(client.send_all(random_bytes(1, 1)));
    EXPECT_TRUE(eventually([&] { return count->received.load() == 1; }));
    const std::uint64_t inline_before = e.stats().completions_inline;
    const std::uint64_t posts_before = platform.calls(syscall::post);
    EXPECT_TRUE(client.send_all(random_bytes(total, 2)));
    EXPECT_TRUE(eventually([&] { return count->received.load() == total + 1; }));
    run_counts counts{e.stats().completions_inline - inline_before, platform.calls(syscall::post) - posts_before};
    client.close();
    e.stop();
    return counts;
}

constexpr std::size_t streamed = 4U << 20;

TEST(InlineYield, WithOneWorkerARunAtTheCapYieldsThroughThePort) {
    const run_counts counts = stream_into_engine(1, streamed);
    // Receives must find data at once for the runs to exist at all (the client writes ahead).
    ASSERT_GE(counts.inline_completions, 100U);
    // Every run that reaches the cap posts: about one post per two inline completions.
    EXPECT_GE(counts.posts * 4, counts.inline_completions)
        << counts.posts << " posts for " << counts.inline_completions << " inline completions";
}

TEST(InlineYield, WithAnotherWorkerWaitingARunGoesOnInline) {
    const run_counts counts = stream_into_engine(2, streamed);
    ASSERT_GE(counts.inline_completions, 100U);
    // The other worker waits on the port the whole time, so the runs do not yield (a few may,
    // while that worker is briefly busy with the engine's own timers). Before should_yield(),
    // this was about one post per two inline completions, as with one worker.
    EXPECT_LE(counts.posts * 20, counts.inline_completions)
        << counts.posts << " posts for " << counts.inline_completions << " inline completions";
}

// The listener hands a connection over inside its accept loop. When the next AcceptEx has already
// finished (here: failed at once with WSAECONNRESET, a client's reset, which the loop re-issues at
// once), that outcome waits in the loop's frame until the hand-over returns. The handed-over
// connection's first receives run inside the hand-over: with its bytes already waiting they finish
// at once, and after the cap they must yield, or the held accept waits for the whole stream.
TEST(InlineYield, AnAcceptThatFinishedAtOnceIsNotKeptWaitingByTheConnectionHandedOverBeforeIt) {
    fault_platform platform;
    call_hold next_accept(platform, syscall::accept_ex);
    engine_options options;
    options.worker_threads = 2;  // the other one waits on the port throughout
    options.max_inline_completions = 2;
    options.receive_buffer_size = 512;
    engine e(options);
    auto count = std::make_shared<byte_count>();
    listen_options one_accept;
    one_accept.pending_accepts = 1;
    listener l = e.listen(endpoint::loopback_v4(0), [count] { return std::make_unique<counting_handler>(count); },
                          one_accept);
    // The AcceptEx the listener issues when the first client arrives is held, then fails at once.
    next_accept.arm();
    platform.fail_nth(syscall::accept_ex, 1, WSAECONNRESET);
    // The AcceptEx issued after that failure was handled says how far the stream had got by then.
    std::atomic<int> accepts_seen{0};
    std::atomic<std::size_t> received_when_reissued{SIZE_MAX};
    platform.before(syscall::accept_ex, [&] {
        if (++accepts_seen == 2) {
            received_when_reissued = count->received.load();
        }
    });
    blocking_client client(l.local_endpoint());
    ASSERT_TRUE(eventually([&] { return next_accept.held(); }));
    constexpr std::size_t queued = 128 * 1024;  // waits on the accepted socket while the accept is held
    ASSERT_TRUE(client.send_all(random_bytes(queued, 4)));
    next_accept.release();
    ASSERT_TRUE(eventually([&] { return count->received.load() == queued && accepts_seen.load() >= 2; }));
    EXPECT_EQ(platform.injected(syscall::accept_ex), 1U);
    // Its receives take 512 B, then 2 KiB (bulk): yielding after two of them, the loop handled the
    // failed accept within a few KiB of the stream; without yielding, after all of it.
    EXPECT_LT(received_when_reissued.load(), queued / 4) << "the held accept waited for the stream";
    client.close();
    e.stop();
    platform.clear();  // the hooks capture locals of this test
}

}  // namespace
}  // namespace wire::test
