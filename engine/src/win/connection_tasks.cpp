// A connection's share of the application's work and timers (connection::post, after, every):
// each runs as one of the connection's callbacks, under callbacks_mutex_, holding a busy unit so
// that it runs before on_close or not at all.
#include "win/connection_impl.h"

#include <wire/error.h>

#include "win/posted_work.h"

#include <algorithm>

namespace wire::detail {

namespace {

using connection_work = posted_work<std::function<void(connection&)>, connection_impl>;

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

std::error_code connection_impl::post(std::function<void(connection&)> work) noexcept {
    lock_type lock(mutex_);
    if (!accepts_work(state_)) {
        return make_error_code(error::not_connected);
    }
    connection_work* item = nullptr;
    try {
        item = new connection_work(&on_posted_work, std::move(work), *this);
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    add_busy();  // the packet's: the connection cannot finalize before the work has run
    lock.unlock();
    context_.port.post(*item, ERROR_SUCCESS);
    return {};
}

void connection_impl::on_posted_work(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    const std::unique_ptr<connection_work> item(static_cast<connection_work*>(&op));
    connection_impl& self = *item->owner;
    {
        std::lock_guard serial(self.callbacks_mutex_);
        connection handle(self.shared_from_this());
        run_contained(item->work, handle);
    }
    lock_type lock(self.mutex_);
    self.release_busy(lock, true);  // may finalize (on_close) and destroy self: nothing follows
}

timer_queue::timer_id connection_impl::schedule_timer(timer_queue::clock::duration delay,
                                                      timer_queue::clock::duration period,
                                                      std::function<void(connection&)> callback) noexcept {
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
    const bool periodic = period > timer_queue::clock::duration::zero();
    timer_queue::timer_id id = 0;
    try {
        id = context_.timers.schedule(
            saturating_add(timer_queue::clock::now(), std::max(delay, timer_queue::clock::duration::zero())),
            [weak = weak_from_this(), f = std::move(callback), periodic] {
                if (const auto self = weak.lock()) {
                    self->run_timer(f, periodic);
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
        return id;  // a short one-shot timer already ran (run_timer found nothing to forget)
    }
    try {
        timers_.push_back(id);  // the reserved slot may have gone to another thread: may allocate
    } catch (const std::bad_alloc&) {
        return context_.timers.cancel(id) ? 0 : id;
    }
    return id;
}

void connection_impl::forget_timer(timer_queue::timer_id id) noexcept {
    std::lock_guard lock(mutex_);
    std::erase(timers_, id);
}

void connection_impl::cancel_timers() noexcept {
    for (const timer_queue::timer_id id : timers_) {
        context_.timers.cancel(id);  // a callback running now sees the state closed and does nothing
    }
    timers_.clear();
}

void connection_impl::run_timer(const std::function<void(connection&)>& callback, bool periodic) noexcept {
    lock_type lock(mutex_);
    if (!accepts_work(state_)) {
        return;  // closed: its timers have died (cancel_timers raced this run)
    }
    if (!periodic) {
        std::erase(timers_, timer_queue::running_id());  // done: nothing to cancel at close
    }
    add_busy();  // runs before on_close, like posted work
    lock.unlock();
    {
        std::lock_guard serial(callbacks_mutex_);
        connection handle(shared_from_this());
        run_contained(callback, handle);
    }
    lock.lock();
    release_busy(lock, true);  // on a worker: may finalize and destroy *this
}

}  // namespace wire::detail
