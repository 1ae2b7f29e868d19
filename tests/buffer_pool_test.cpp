#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <new>
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

TEST(BufferPool, TrimReleasesSparesUnusedSinceTheLastTrim) {
    buffer_pool pool(64, 8);
    std::vector<buffer_pool::buffer> taken;
    for (int i = 0; i < 4; ++i) {
        taken.push_back(pool.take());
    }
    for (auto& b : taken) {
        pool.give(std::move(b));
    }
    pool.trim();  // nothing has been unused for a whole period yet
    EXPECT_EQ(pool.spare(), 4U);
    auto b = pool.take();  // one spare was needed in this period, three were not
    pool.give(std::move(b));
    pool.trim();
    EXPECT_EQ(pool.spare(), 1U);
    pool.trim();
    EXPECT_EQ(pool.spare(), 0U);
    EXPECT_EQ(pool.outstanding(), 0U);
}

namespace counting {
int allocated = 0;
int released = 0;
}  // namespace counting

TEST(BufferPool, BuffersComeFromAndGoBackToTheGivenAllocator) {
    counting::allocated = 0;
    counting::released = 0;
    const buffer_pool::allocator source{[](std::size_t size) noexcept -> std::byte* {
                                            ++counting::allocated;
                                            return new (std::nothrow) std::byte[size];
                                        },
                                        [](std::byte* block, std::size_t /*size*/) noexcept {
                                            ++counting::released;
                                            delete[] block;
                                        }};
    {
        buffer_pool pool(128, 1, source);
        auto a = pool.take();
        auto b = pool.take();
        EXPECT_EQ(counting::allocated, 2);
        pool.give(std::move(a));
        pool.give(std::move(b));  // over the spare limit: released at once
        EXPECT_EQ(counting::released, 1);
        auto c = pool.take();  // the spare, no new allocation
        EXPECT_EQ(counting::allocated, 2);
        pool.give(std::move(c));
    }
    EXPECT_EQ(counting::released, 2);  // the pool's spare went back when the pool did
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
