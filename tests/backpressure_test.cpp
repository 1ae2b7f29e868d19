// The send-queue cap: a peer that never reads makes send() refuse, memory stays bounded, and
// on_drained says when to resume once the peer reads again.
#include "test_support.h"

namespace wire::test {
namespace {

constexpr std::size_t cap = 256 * 1024;
constexpr std::size_t chunk = 16 * 1024;

// Sends an endless numbered byte stream, as fast as the cap lets it.
class firehose : public connection_handler {
public:
    explicit firehose(std::shared_ptr<recorder> rec) : rec_(std::move(rec)) {}
    void on_open(connection& c) override {
        {
            std::lock_guard lock(rec_->mutex);
            rec_->conn = c;
        }
        pump(c);
    }
    void on_data(connection&, gsl::span<const std::byte>) override {}
    void on_drained(connection& c) override {
        {
            std::lock_guard lock(rec_->mutex);
            ++rec_->drained;
        }
        pump(c);
    }
    void on_close(connection&, std::error_code reason) override {
        std::lock_guard lock(rec_->mutex);
        ++rec_->closed;
        rec_->reason = reason;
        rec_->conn = {};
    }
    // Bytes accepted by send() so far.
    static std::atomic<std::size_t> accepted;
    static std::atomic<std::size_t> max_queued;
    static std::atomic<int> refusals;
    static std::atomic<bool> stop_sending;

private:
    void pump(connection& c) {
        while (!stop_sending) {
            std::array<std::byte, chunk> data;
            for (std::size_t i = 0; i < chunk; ++i) {
                data[i] = static_cast<std::byte>((accepted + i) % 251);
            }
            const std::error_code ec = c.send(data);
            if (ec == error::send_queue_full) {
                ++refusals;
                return;  // wait for on_drained
            }
            ASSERT_FALSE(ec) << ec.message();
            accepted += chunk;
            const std::size_t q = c.queued_bytes();
            if (q > max_queued) {
                max_queued = q;
            }
        }
    }
    std::shared_ptr<recorder> rec_;
};
std::atomic<std::size_t> firehose::accepted{0};
std::atomic<std::size_t> firehose::max_queued{0};
std::atomic<int> firehose::refusals{0};
std::atomic<bool> firehose::stop_sending{false};

TEST(Backpressure, PeerThatNeverReadsHitsTheCapThenDrainResumes) {
    // The firehose's counters are static: start from zero, so that the test can repeat in one
    // process (--gtest_repeat), as it must to be run under load many times.
    firehose::accepted = 0;
    firehose::max_queued = 0;
    firehose::refusals = 0;
    firehose::stop_sending = false;
    engine_options options;
    options.send_queue_cap = cap;
    engine e(options);
    auto rec = std::make_shared<recorder>();
    listener l = e.listen(endpoint::loopback_v4(0), [&] { return std::make_unique<firehose>(rec); });
    blocking_client client(l.local_endpoint());

    ASSERT_TRUE(eventually([] { return firehose::refusals.load() > 0; }));
    // Bounded: the queue never holds more than the cap (plus the one buffer admitted when empty).
    EXPECT_LE(firehose::max_queued.load(), cap + chunk);
    EXPECT_LE(e.stats().buffered_bytes, cap + chunk);
    const std::size_t accepted_at_cap = firehose::accepted.load();

    // The peer reads: the queue drains, on_drained fires, the sender resumes.
    const std::size_t to_read = accepted_at_cap + cap;
    std::vector<std::byte> got = client.receive_exactly(to_read);
    ASSERT_EQ(got.size(), to_read);
    EXPECT_GT(rec->drained_count(), 0);
    EXPECT_GT(firehose::accepted.load(), accepted_at_cap);
    for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], static_cast<std::byte>(i % 251)) << "byte " << i;  // nothing lost or reordered
    }
    firehose::stop_sending = true;
    EXPECT_GT(e.stats().sends_refused, 0U);
}

TEST(Backpressure, OneBufferLargerThanTheCapIsAcceptedWhenTheQueueIsEmpty) {
    engine_options options;
    options.send_queue_cap = 64 * 1024;
    engine e(options);
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    auto rec = std::make_shared<recorder>();
    connection c = e.connect(l.local_endpoint(), std::make_unique<recording_handler>(rec));
    ASSERT_TRUE(eventually([&] { return c.is_open(); }));
    const auto big = random_bytes(200 * 1024, 11);
    EXPECT_FALSE(c.send(big));
    ASSERT_TRUE(eventually([&] { return rec->received_size() == big.size(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_TRUE(rec->received == big);
}

}  // namespace
}  // namespace wire::test
