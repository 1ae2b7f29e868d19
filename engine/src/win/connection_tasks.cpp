// A connection's strand and the application's work and timers on it (connection::post, after,
// every). Every callback but on_close runs as a strand task (see connection_impl.h): a worker that
// brings a task to a running strand queues it and returns to the port.
#include "win/connection_impl.h"

#include <wire/error.h>

#include <algorithm>

namespace wire::detail {

namespace {

bool accepts_work(connection_state state) noexcept {
    return state != connection_state::closed && state != connection_state::finalized;
}

template <typename Function>
void run_contained(Function& f, connection& handle) noexcept {
    try {
        f(handle);
    } catch (...) {
        // An application callback must not throw; one that does is contained on the worker.
    }
}

}  // namespace

// Owned by the strand's queue from post() until it has run: run_posted deletes it.
struct connection_impl::posted_task : connection_task {
    posted_task(connection_impl& o, std::function<void(connection&)>&& w) noexcept
        : connection_task(o, &run_posted), work(std::move(w)) {}
    std::function<void(connection&)> work;
};

// Shared by the timer queue's entry (until the timer is cancelled or done) and, while queued, by
// itself (keep_alive): a timer cancelled while its run waits on the strand still runs its turn,
// sees the connection's state and is freed.
struct connection_impl::timer_task : connection_task {
    timer_task(connection_impl& o, std::function<void(connection&)>&& f, bool is_periodic) noexcept
        : connection_task(o, &run_timer), callback(std::move(f)), periodic(is_periodic) {}
    std::function<void(connection&)> callback;
    const bool periodic;
    bool queued = false;  // guarded by the owner's mutex_, as is id
    timer_queue::timer_id id = 0;  // once recorded in timers_: a periodic run waits for it
    std::shared_ptr<timer_task> keep_alive;
};

// ---- the strand --------------------------------------------------------------------------------

void connection_impl::run_or_queue(lock_type& lock, connection_task& task, bool on_worker) noexcept {
    if (!strand_.push(task)) {
        settle(lock, on_worker);  // the runner takes it in turn; the task's unit keeps *this alive
        return;
    }
    if (!on_worker) {
        request_post(post_strand);  // the packet's unit is the runner's
        settle(lock, false);
        return;
    }
    add_busy();  // the runner's
    run_strand(lock);
}

void connection_impl::run_strand(lock_type& lock) noexcept {
    for (unsigned runs = 1;; ++runs) {
        auto* task = static_cast<connection_task*>(strand_.take());
        if (task == nullptr) {
            release_busy(lock, true);  // the runner's; the strand is idle: may finalize
            return;
        }
        const bool drop_unit = task->run(*task, lock);
        // Asked without the lock: should_yield looks at the timer queue.
        const bool fair_share_done = runs >= context_.options.max_inline_completions && context_.port.should_yield();
        lock.lock();
        if (drop_unit) {
            drop_busy();  // the task's; the runner's keeps *this alive
        }
        if (fair_share_done && !strand_.empty()) {
            // Other work waits for this worker: the strand stays claimed and goes on after it.
            request_post(post_strand);
            release_busy(lock, true);  // the runner's: the packet holds its own
            return;
        }
    }
}

void connection_impl::on_strand_packet(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    connection_impl& self = *static_cast<control_operation&>(op).owner;
    lock_type lock(self.mutex_);
    self.posted_ &= ~static_cast<unsigned>(post_strand);
    self.run_strand(lock);  // the packet's busy unit is the runner's
}

// ---- posted work -------------------------------------------------------------------------------

std::error_code connection_impl::post(std::function<void(connection&)> work) noexcept {
    std::unique_ptr<posted_task> item;
    try {
        item = std::make_unique<posted_task>(*this, std::move(work));
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    lock_type lock(mutex_);
    if (!accepts_work(state_)) {
        lock.unlock();  // the work is destroyed outside the lock
        return make_error_code(error::not_connected);
    }
    add_busy();  // the task's: the connection cannot finalize before the work has run
    run_or_queue(lock, *item.release(), false);  // never runs inside post()
    return {};
}

bool connection_impl::run_posted(connection_task& task, lock_type& lock) noexcept {
    connection_impl& self = *task.owner;
    lock.unlock();
    {
        const std::unique_ptr<posted_task> item(static_cast<posted_task*>(&task));
        connection handle(self.shared_from_this());
        run_contained(item->work, handle);
    }  // the work's captures are destroyed outside the lock
    return true;
}

// ---- timers ------------------------------------------------------------------------------------

timer_queue::timer_id connection_impl::schedule_timer(timer_queue::clock::duration delay,
                                                      timer_queue::clock::duration period,
                                                      std::function<void(connection&)> callback) noexcept {
    const bool periodic = period > timer_queue::clock::duration::zero();
    std::shared_ptr<timer_task> task;
    try {
        task = std::make_shared<timer_task>(*this, std::move(callback), periodic);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    lock_type lock(mutex_);
    if (!accepts_work(state_)) {
        return 0;
    }
    try {
        timers_.reserve(timers_.size() + 1);  // so that recording the id below cannot fail
    } catch (const std::bad_alloc&) {
        return 0;
    }
    lock.unlock();  // scheduling may wake a worker (a system call): not under the lock
    timer_queue::timer_id id = 0;
    try {
        id = context_.timers.schedule(
            saturating_add(timer_queue::clock::now(), std::max(delay, timer_queue::clock::duration::zero())),
            [weak = weak_from_this(), task] {
                if (const auto self = weak.lock()) {
                    self->timer_due(task);
                }
            },
            period, timer_queue::owner::application);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    lock.lock();
    if (!accepts_work(state_)) {
        context_.timers.cancel(id);  // closed meanwhile: cancel_timers has run without it
        return 0;
    }
    if (!context_.timers.will_run(id)) {
        return id;  // a short one-shot timer already ran (timer_due found nothing to forget)
    }
    try {
        timers_.push_back(id);  // the reserved slot may have gone to another thread: may allocate
    } catch (const std::bad_alloc&) {
        return context_.timers.cancel(id) ? 0 : id;
    }
    task->id = id;
    return id;
}

void connection_impl::forget_timer(timer_queue::timer_id id) noexcept {
    std::lock_guard lock(mutex_);
    std::erase(timers_, id);
}

void connection_impl::cancel_timers() noexcept {
    for (const timer_queue::timer_id id : timers_) {
        context_.timers.cancel(id);  // a run already due sees the state closed and does nothing
    }
    timers_.clear();
}

void connection_impl::timer_due(const std::shared_ptr<timer_task>& task) noexcept {
    lock_type lock(mutex_);
    if (!accepts_work(state_)) {
        return;  // closed: its timers have died (cancel_timers raced this run)
    }
    if (!task->periodic) {
        std::erase(timers_, timer_queue::running_id());  // done: nothing to cancel at close
    }
    if (task->queued) {
        return;  // a periodic timer whose previous run still waits on the strand: that run stands for both
    }
    task->queued = true;
    task->keep_alive = task;
    add_busy();  // the task's: runs before on_close, like posted work
    run_or_queue(lock, *task, true);
}

bool connection_impl::run_timer(connection_task& task, lock_type& lock) noexcept {
    auto& timer = static_cast<timer_task&>(task);
    connection_impl& self = *timer.owner;
    timer.queued = false;
    std::shared_ptr<timer_task> keep = std::move(timer.keep_alive);
    // A periodic timer cancelled while this run waited on the strand is gone from timers_: its
    // cancel() returned true, so it must not run again (timer.h).
    const bool cancelled = timer.periodic && timer.id != 0 && std::find(self.timers_.begin(), self.timers_.end(), timer.id) == self.timers_.end();
    const bool runs = accepts_work(self.state_) && !cancelled;
    lock.unlock();
    if (runs) {
        connection handle(self.shared_from_this());
        run_contained(timer.callback, handle);
    }
    keep.reset();  // a cancelled timer's callback is destroyed here, outside the lock
    return true;
}

}  // namespace wire::detail
