#include "core/send_queue.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace wire::detail {
namespace {

std::vector<std::byte> sequence(std::size_t size, std::size_t start = 0) {
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<std::byte>((start + i) & 0xFF);
    }
    return out;
}

std::vector<std::byte> drain_all(send_queue& q, std::size_t max_spans, std::size_t step) {
    std::vector<std::byte> out;
    std::vector<gsl::span<const std::byte>> spans(max_spans);
    while (!q.empty()) {
        const std::size_t n = q.gather(spans);
        EXPECT_GT(n, 0U);
        std::size_t taken = 0;
        for (std::size_t i = 0; i < n && taken < step; ++i) {
            const std::size_t part = std::min(step - taken, spans[i].size());
            out.insert(out.end(), spans[i].begin(), spans[i].begin() + static_cast<std::ptrdiff_t>(part));
            taken += part;
        }
        q.consume(taken);
    }
    return out;
}

TEST(SendQueue, StartsEmpty) {
    send_queue q(64);
    EXPECT_TRUE(q.empty());
    std::vector<gsl::span<const std::byte>> spans(4);
    EXPECT_EQ(q.gather(spans), 0U);
}

TEST(SendQueue, SmallAppendsShareOneBlock) {
    send_queue q(64);
    const auto data = sequence(30);
    q.append(gsl::span(data).first(10));
    q.append(gsl::span(data).subspan(10));
    std::vector<gsl::span<const std::byte>> spans(4);
    ASSERT_EQ(q.gather(spans), 1U);
    EXPECT_EQ(spans[0].size(), 30U);
    EXPECT_TRUE(std::equal(spans[0].begin(), spans[0].end(), data.begin()));
}

TEST(SendQueue, PreservesOrderAcrossBlocksAndPartialConsumes) {
    send_queue q(16);
    std::vector<std::byte> expected;
    std::size_t start = 0;
    for (std::size_t size : {5U, 16U, 1U, 40U, 3U, 100U}) {
        const auto chunk = sequence(size, start);
        start += size;
        q.append(chunk);
        expected.insert(expected.end(), chunk.begin(), chunk.end());
    }
    EXPECT_EQ(q.size(), expected.size());
    EXPECT_EQ(drain_all(q, 3, 7), expected);
    EXPECT_TRUE(q.empty());
}

TEST(SendQueue, GatheredBytesStayValidWhileAppending) {
    // A WSASend in flight keeps pointing at gathered bytes while send() appends more.
    send_queue q(64);
    const auto first = sequence(20);
    q.append(first);
    std::vector<gsl::span<const std::byte>> spans(4);
    ASSERT_EQ(q.gather(spans), 1U);
    const gsl::span<const std::byte> in_flight = spans[0];
    for (int i = 0; i < 50; ++i) {
        q.append(sequence(17, 100 + static_cast<std::size_t>(i)));
    }
    EXPECT_TRUE(std::equal(in_flight.begin(), in_flight.end(), first.begin()));
    q.consume(in_flight.size());
    EXPECT_EQ(q.size(), 50U * 17U);
}

TEST(SendQueue, LargeAppendGetsItsOwnBlock) {
    send_queue q(16);
    const auto big = sequence(1000);
    q.append(big);
    std::vector<gsl::span<const std::byte>> spans(4);
    ASSERT_EQ(q.gather(spans), 1U);
    EXPECT_EQ(spans[0].size(), 1000U);
}

TEST(SendQueue, GatherRespectsTheSpanLimit) {
    send_queue q(8);
    for (int i = 0; i < 10; ++i) {
        q.append(sequence(8));
    }
    std::vector<gsl::span<const std::byte>> spans(4);
    EXPECT_EQ(q.gather(spans), 4U);
}

TEST(SendQueue, ClearEmptiesAndQueueIsReusable) {
    send_queue q(16);
    q.append(sequence(100));
    q.clear();
    EXPECT_TRUE(q.empty());
    const auto again = sequence(10, 7);
    q.append(again);
    EXPECT_EQ(drain_all(q, 2, 100), again);
}

TEST(SendQueue, EmptiedQueueHoldsNoMemory) {
    // An idle connection must not keep a send buffer.
    send_queue q(64);
    for (int i = 0; i < 10; ++i) {
        q.append(sequence(50));
    }
    EXPECT_GE(q.allocated_bytes(), 500U);
    q.consume(250);
    EXPECT_GT(q.allocated_bytes(), 0U);  // still streaming: blocks kept
    q.consume(250);
    EXPECT_EQ(q.allocated_bytes(), 0U);
    q.append(sequence(10));  // and it works again afterwards
    EXPECT_EQ(drain_all(q, 2, 100), sequence(10));
    EXPECT_EQ(q.allocated_bytes(), 0U);
}

TEST(SendQueue, StreamingNeverEmptyKeepsOrderAndOnlyWhatIsQueued) {
    // A queue that never empties (a bulk sender ahead of its peer) drops its sent blocks as it
    // goes: what it holds follows what is queued, not everything ever sent through it.
    send_queue q(16);
    std::vector<std::byte> expected;
    std::vector<std::byte> out;
    std::vector<gsl::span<const std::byte>> spans(3);
    std::size_t written = 0;
    for (int round = 0; round < 200; ++round) {
        const auto chunk = sequence(40, written);
        written += chunk.size();
        q.append(chunk);
        expected.insert(expected.end(), chunk.begin(), chunk.end());
        const std::size_t n = q.gather(spans);
        ASSERT_GT(n, 0U);
        const std::size_t taken = std::min<std::size_t>(spans[0].size(), 30);  // behind: 10 more each round
        out.insert(out.end(), spans[0].begin(), spans[0].begin() + static_cast<std::ptrdiff_t>(taken));
        q.consume(taken);
        ASSERT_FALSE(q.empty());
        EXPECT_LE(q.allocated_bytes(), q.size() + 2 * 16 + 40);  // the queued bytes, a partly sent block, spares
    }
    const auto rest = drain_all(q, 3, 7);
    out.insert(out.end(), rest.begin(), rest.end());
    EXPECT_EQ(out, expected);
    EXPECT_EQ(q.allocated_bytes(), 0U);
}

TEST(SendQueue, EmptyAppendIsIgnored) {
    send_queue q(16);
    q.append({});
    EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace wire::detail
