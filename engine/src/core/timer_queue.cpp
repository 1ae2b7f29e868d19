#include "core/timer_queue.h"

#include <algorithm>

namespace wire::detail {

namespace {

// The longest single wait. A saturated deadline is time_point::max(), and the standard libraries
// convert a steady_clock deadline by arithmetic that such a value overflows: libstdc++ without
// pthread_cond_clockwait (MinGW) adds the remaining time to system_clock::now(), signed overflow
// (under winpthreads it happens to sleep until notified; nothing promises that). Waiting in
// slices keeps every conversion in range; a far deadline then costs one look per slice.
constexpr std::chrono::hours longest_wait{24};

}  // namespace

timer_queue::timer_queue() : thread_([this] { run(); }) {}

timer_queue::~timer_queue() { stop(); }

timer_queue::timer_id timer_queue::schedule(clock::time_point when, std::function<void()> callback) {
    std::lock_guard lock(mutex_);
    const timer_id id = next_id_++;
    const bool earliest = by_deadline_.empty() || when < by_deadline_.begin()->first;
    deadlines_.emplace(id, when);
    try {
        by_deadline_.emplace(when, entry{id, std::move(callback)});
    } catch (...) {
        deadlines_.erase(id);
        throw;
    }
    if (earliest) {
        wake_.notify_one();  // only a new earliest deadline changes how long the thread sleeps
    }
    return id;
}

bool timer_queue::cancel(timer_id id) noexcept {
    std::lock_guard lock(mutex_);
    const auto found = deadlines_.find(id);
    if (found == deadlines_.end()) {
        return false;
    }
    auto [first, last] = by_deadline_.equal_range(found->second);
    for (auto it = first; it != last; ++it) {
        if (it->second.id == id) {
            by_deadline_.erase(it);
            break;
        }
    }
    deadlines_.erase(found);
    return true;  // no wake-up: the thread finds the entry gone when it looks next
}

void timer_queue::stop() noexcept {
    if (!thread_.joinable()) {
        return;
    }
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    std::lock_guard lock(mutex_);
    by_deadline_.clear();
    deadlines_.clear();
}

std::size_t timer_queue::pending() const noexcept {
    std::lock_guard lock(mutex_);
    return deadlines_.size();
}

std::uint64_t timer_queue::wakeups() const noexcept {
    std::lock_guard lock(mutex_);
    return wakeups_;
}

void timer_queue::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        ++wakeups_;
        if (by_deadline_.empty()) {
            wake_.wait(lock, [this] { return stopping_ || !by_deadline_.empty(); });
            continue;
        }
        const auto next = by_deadline_.begin()->first;
        if (clock::now() < next) {
            // Sleep until that deadline, or until an earlier one is scheduled, or stop; then look
            // again (a cancelled deadline only costs one early look).
            const auto until = std::min(next, saturating_add(clock::now(), longest_wait));
            wake_.wait_until(lock, until, [this, next] {
                return stopping_ || (!by_deadline_.empty() && by_deadline_.begin()->first < next);
            });
            continue;
        }
        auto node = by_deadline_.extract(by_deadline_.begin());
        deadlines_.erase(node.mapped().id);
        lock.unlock();
        node.mapped().callback();
        lock.lock();
    }
}

}  // namespace wire::detail
