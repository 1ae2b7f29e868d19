#include "core/timer_queue.h"

#include <iterator>
#include <utility>

namespace wire::detail {

namespace {

thread_local timer_queue::timer_id current_timer = 0;

}  // namespace

timer_queue::timer_id timer_queue::running_id() noexcept { return current_timer; }

timer_queue::timer_id timer_queue::schedule(clock::time_point when, std::function<void()> callback,
                                            clock::duration period, owner who) {
    timer_id id = 0;
    bool earliest = false;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
        earliest = by_deadline_.empty() || when < by_deadline_.begin()->first;
        deadlines_.emplace(id, when);
        try {
            by_deadline_.emplace(when, entry{id, std::move(callback), period, who});
        } catch (...) {
            deadlines_.erase(id);
            throw;
        }
        publish_next_locked();
    }
    if (earliest && notice_) {
        notice_(when);
    }
    return id;
}

bool timer_queue::cancel(timer_id id) noexcept {
    // Declared before the lock, so destroyed after it is released: a callback's captures may
    // do anything in their destructors, this queue's calls included.
    deadline_map::node_type removed;
    std::lock_guard lock(mutex_);
    if (const auto running = running_periodic_.find(id); running != running_periodic_.end()) {
        running->second.cancelled = true;  // run_due drops it instead of scheduling the next period
        return false;
    }
    const auto found = deadlines_.find(id);
    if (found == deadlines_.end()) {
        return false;
    }
    auto [first, last] = by_deadline_.equal_range(found->second);
    for (auto it = first; it != last; ++it) {
        if (it->second.id == id) {
            removed = by_deadline_.extract(it);
            break;
        }
    }
    deadlines_.erase(found);
    publish_next_locked();
    return true;
}

void timer_queue::publish_next_locked() noexcept {
    const clock::time_point next = by_deadline_.empty() ? clock::time_point::max() : by_deadline_.begin()->first;
    next_.store(next.time_since_epoch().count(), std::memory_order_release);
}

std::size_t timer_queue::run_due(clock::time_point now) {
    std::size_t ran = 0;
    std::unique_lock lock(mutex_);
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
        const entry& first = by_deadline_.begin()->second;
        const bool periodic = first.period > clock::duration::zero();
        if (periodic) {
            // May throw bad_alloc: before anything is taken out, so nothing is lost.
            running_periodic_.emplace(first.id, running_state{false, first.who});
        }
        auto node = by_deadline_.extract(by_deadline_.begin());
        const clock::time_point due = node.key();
        entry& e = node.mapped();
        auto id_node = deadlines_.extract(e.id);  // kept for a periodic timer: re-inserting allocates nothing
        publish_next_locked();
        lock.unlock();
        const timer_id outer = std::exchange(current_timer, e.id);  // a callback may run run_due itself
        e.callback();
        current_timer = outer;
        ++ran;
        if (!periodic) {
            node = {};  // the callback and its captures go now, outside the lock (see cancel)
            lock.lock();
            continue;
        }
        lock.lock();
        const auto running = running_periodic_.find(e.id);
        const bool cancelled = running->second.cancelled;
        running_periodic_.erase(running);
        if (cancelled) {
            lock.unlock();
            node = {};  // as above
            lock.lock();
            continue;
        }
        // The next period after `now`, counted from the deadline it was due at: no drift, and
        // periods missed while the workers were busy are skipped rather than run back to back.
        clock::time_point next = saturating_add(due, e.period);
        if (next <= now) {
            const auto missed = (now - due) / e.period;
            next = saturating_add(due, e.period * (missed + 1));
        }
        node.key() = next;
        id_node.mapped() = next;
        deadlines_.insert(std::move(id_node));
        by_deadline_.insert(std::move(node));
        publish_next_locked();
    }
    return ran;
}

void timer_queue::drop_application_timers() noexcept {
    deadline_map dropped;  // destroyed outside the lock: the callbacks may hold anything
    std::unique_lock lock(mutex_);
    for (auto it = by_deadline_.begin(); it != by_deadline_.end();) {
        const auto next = std::next(it);
        if (it->second.who == owner::application) {
            deadlines_.erase(it->second.id);
            dropped.insert(by_deadline_.extract(it));  // moves the node: no allocation
        }
        it = next;
    }
    for (auto& [id, state] : running_periodic_) {
        if (state.who == owner::application) {
            state.cancelled = true;  // running now: not run again
        }
    }
    publish_next_locked();
    lock.unlock();
}

void timer_queue::clear() noexcept {
    deadline_map dropped;
    std::unique_lock lock(mutex_);
    dropped.swap(by_deadline_);
    deadlines_.clear();
    publish_next_locked();
    lock.unlock();
}

bool timer_queue::will_run(timer_id id) const noexcept {
    std::lock_guard lock(mutex_);
    if (const auto running = running_periodic_.find(id); running != running_periodic_.end()) {
        return !running->second.cancelled;
    }
    return deadlines_.find(id) != deadlines_.end();
}

std::size_t timer_queue::pending() const noexcept {
    std::lock_guard lock(mutex_);
    return deadlines_.size();
}

}  // namespace wire::detail
