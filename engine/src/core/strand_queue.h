#pragma once
// A strand's bookkeeping: the tasks waiting to run one at a time, and whether a thread is running
// them. A thread that finds the strand running queues its task and goes back to other work at
// once; it never waits for the runner. The runner takes the tasks in the order they were queued.
//
// Not thread-safe by itself: its owner guards it with its own lock, so that queueing a task and
// the owner's state change that caused it are one step. Tasks are intrusive, so queueing never
// allocates and cannot fail: each task object is queued at most once at a time, and its owner
// keeps it alive until it has run.
#include <cassert>

namespace wire::detail {

// A queued task's link; the owner's task type derives from it and says how the task runs.
struct strand_task {
    strand_task() noexcept = default;
    strand_task(const strand_task&) = delete;
    strand_task& operator=(const strand_task&) = delete;

    strand_task* next = nullptr;  // the queue's link, while queued
};

class strand_queue {
public:
    // Queues `task`. True when the strand was idle: the caller has just claimed it and must see
    // that it runs (take() until empty, or hand it to a thread that will).
    [[nodiscard]] bool push(strand_task& task) noexcept {
        assert(task.next == nullptr && &task != tail_);
        if (tail_ != nullptr) {
            tail_->next = &task;
        } else {
            head_ = &task;
        }
        tail_ = &task;
        return claim();
    }

    // Claims an idle strand without queueing anything (a runner that will only take()).
    [[nodiscard]] bool claim() noexcept {
        if (running_) {
            return false;
        }
        running_ = true;
        return true;
    }

    // The runner's next task, or nullptr when none is left: the strand is idle again then, and
    // the next push claims it.
    [[nodiscard]] strand_task* take() noexcept {
        assert(running_);
        strand_task* task = head_;
        if (task == nullptr) {
            running_ = false;
            return nullptr;
        }
        head_ = task->next;
        if (head_ == nullptr) {
            tail_ = nullptr;
        }
        task->next = nullptr;
        return task;
    }

    [[nodiscard]] bool running() const noexcept { return running_; }
    [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }

private:
    strand_task* head_ = nullptr;
    strand_task* tail_ = nullptr;
    bool running_ = false;
};

}  // namespace wire::detail
