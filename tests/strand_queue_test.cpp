// The strand's bookkeeping (core/strand_queue.h): who claims it, in what order tasks come out,
// and that it is idle again exactly when the runner finds nothing left.
#include "core/strand_queue.h"

#include <gtest/gtest.h>

#include <array>

namespace wire::detail {
namespace {

TEST(StrandQueue, TheFirstPushClaimsAnIdleStrandAndLaterOnesOnlyQueue) {
    strand_queue strand;
    std::array<strand_task, 3> tasks;
    EXPECT_FALSE(strand.running());
    EXPECT_TRUE(strand.push(tasks[0]));
    EXPECT_TRUE(strand.running());
    EXPECT_FALSE(strand.push(tasks[1]));
    EXPECT_FALSE(strand.push(tasks[2]));
    EXPECT_FALSE(strand.claim());
}

TEST(StrandQueue, TasksComeOutInTheOrderQueuedAndTheStrandIsIdleAfterTheLast) {
    strand_queue strand;
    std::array<strand_task, 4> tasks;
    for (auto& t : tasks) {
        (void)strand.push(t);
    }
    for (auto& t : tasks) {
        EXPECT_EQ(strand.take(), &t);
        EXPECT_TRUE(strand.running()) << "the runner still holds it while it runs a task";
    }
    EXPECT_TRUE(strand.empty());
    EXPECT_EQ(strand.take(), nullptr);
    EXPECT_FALSE(strand.running());
    EXPECT_TRUE(strand.push(tasks[0])) << "idle again: the next push claims it";
}

TEST(StrandQueue, ATaskTakenMayBeQueuedAgainBehindTheOthers) {
    strand_queue strand;
    std::array<strand_task, 2> tasks;
    (void)strand.push(tasks[0]);
    (void)strand.push(tasks[1]);
    strand_task* first = strand.take();
    ASSERT_EQ(first, &tasks[0]);
    EXPECT_FALSE(strand.push(*first));  // e.g. the next receive's delivery, while the runner runs
    EXPECT_EQ(strand.take(), &tasks[1]);
    EXPECT_EQ(strand.take(), &tasks[0]);
    EXPECT_EQ(strand.take(), nullptr);
}

TEST(StrandQueue, ClaimingWithoutATaskLetsARunnerStartAndFindNothing) {
    strand_queue strand;
    EXPECT_TRUE(strand.claim());
    EXPECT_FALSE(strand.claim());
    EXPECT_EQ(strand.take(), nullptr);
    EXPECT_FALSE(strand.running());
}

}  // namespace
}  // namespace wire::detail
