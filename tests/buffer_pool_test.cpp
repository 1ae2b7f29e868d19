#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace wire::detail {
namespace {

TEST(BufferPool, GivenBuffersAreReusedUpToTheSpareLimit) {
    buffer_pool pool(1024, 2);
    auto a = pool.take();
    auto b = pool.take();
    auto c = pool.take();
    EXPECT_EQ(pool.outstanding(), 3U);
    const std::byte* first = a.get();
    pool.give(std::move(a));
    pool.give(std::move(b));
    pool.give(std::move(c));  // over the limit: freed, not kept
    EXPECT_EQ(pool.spare(), 2U);
    EXPECT_EQ(pool.outstanding(), 0U);
    auto again = pool.take();
    auto again2 = pool.take();
    EXPECT_TRUE(again.get() == first || again2.get() == first);
    pool.give(std::move(again));
    pool.give(std::move(again2));
}

TEST(BufferPool, BuffersAreWritableToTheirFullSize) {
    buffer_pool pool(4096, 1);
    auto b = pool.take();
    for (std::size_t i = 0; i < pool.buffer_size(); ++i) {
        b[i] = static_cast<std::byte>(i);
    }
    EXPECT_EQ(b[4095], static_cast<std::byte>(4095 & 0xFF));
    pool.give(std::move(b));
}

TEST(BufferPool, GivingNothingIsHarmless) {
    buffer_pool pool(64, 1);
    pool.give(nullptr);
    EXPECT_EQ(pool.spare(), 0U);
    EXPECT_EQ(pool.outstanding(), 0U);
}

TEST(BufferPool, ThreadsShareOnePool) {
    buffer_pool pool(256, 8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                auto b = pool.take();
                b[0] = std::byte{1};
                pool.give(std::move(b));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(pool.outstanding(), 0U);
    EXPECT_LE(pool.spare(), 8U);
}

}  // namespace
}  // namespace wire::detail
