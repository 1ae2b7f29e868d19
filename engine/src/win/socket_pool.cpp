#include "win/socket_pool.h"
#include "win/system_calls.h"

#include <memory>

namespace wire::detail {

socket_pool::~socket_pool() {
    drain();
    clear();
}

bool socket_pool::may_recycle(reuse_use origin) const noexcept {
    const support disconnect = disconnect_.load();
    return options_.recycle_sockets && extensions_.disconnect_ex != nullptr &&
           state(origin) != support::unsupported && disconnect != support::unsupported &&
           disconnect != support::overdue;
}

void socket_pool::recycle(unique_socket socket, bool ipv6, bool skips_port, reuse_use origin) noexcept {
    if (!may_recycle(origin)) {
        return;  // `socket` closes on the way out
    }
    disconnect_operation* op = nullptr;
    bool probe = false;
    {
        std::lock_guard lock(mutex_);
        probe = disconnect_ == support::unknown;
        // may_recycle() was read before the lock: the probe may have turned overdue meanwhile.
        if (draining_ || (probe && !in_flight_.empty()) || (!probe && disconnect_ != support::supported) ||
            pooled_[ipv6 ? 1 : 0].size() + in_flight_.size() >= max_pooled) {
            return;
        }
        try {
            auto owned = std::make_unique<disconnect_operation>(*this, next_id_++, std::move(socket), ipv6, skips_port,
                                                                origin);
            in_flight_.emplace(owned->id, owned.get());
            op = owned.release();  // owned by in_flight_ until finish()
        } catch (const std::bad_alloc&) {
            return;
        }
        probing_ = probe;
    }
    if (probe) {
        try {
            timers_.schedule_after(probe_timeout, [this, id = op->id] { probe_expired(id); });
        } catch (const std::bad_alloc&) {
            // Without the timer a probe that never completes is only found by stop(): still bounded.
        }
    }
    // Once DisconnectEx has it, `op` may be finished (and freed) by a worker at any moment unless
    // no packet is queued for it: read nothing from it after the call but on those paths.
    const SOCKET target = op->socket.get();
    if (extensions_.disconnect_ex(target, op, TF_REUSE_SOCKET, 0) != FALSE) {
        if (skips_port) {
            finish(op, ERROR_SUCCESS);  // finished at once and no packet will come
        }
        return;  // otherwise the queued packet finishes it
    }
    if (const int error = ::WSAGetLastError(); error != ERROR_IO_PENDING) {
        finish(op, static_cast<DWORD>(error));
    }
}

void socket_pool::on_disconnected(operation& op, DWORD error, DWORD /*bytes*/) noexcept {
    auto& disconnect = static_cast<disconnect_operation&>(op);
    disconnect.pool->finish(&disconnect, error);
}

void socket_pool::finish(disconnect_operation* op, DWORD error) noexcept {
    std::unique_ptr<disconnect_operation> owned(op);  // freed (its socket closed) after the unlock
    std::lock_guard lock(mutex_);
    if (cancelling_ && in_flight_.count(op->id) != 0) {
        op->deferred = true;  // drain() is reading in_flight_ without the lock: it finishes this
        op->deferred_error = error;
        (void)owned.release();
        return;
    }
    if (in_flight_.erase(op->id) == 0) {
        return;  // abandoned by stop(): completed after all, so now it can be freed
    }
    probing_ = false;  // the probe, if this was it, is answered (and no other runs beside it)
    if (error == ERROR_SUCCESS) {
        disconnect_ = support::supported;  // also when the probe was overdue: it was only late
        disconnect_failures_ = 0;
        if (!draining_) {
            try {
                pooled_[op->ipv6 ? 1 : 0].push_back(pooled_socket{std::move(op->socket), op->skips_port, op->origin});
            } catch (const std::bad_alloc&) {
                // the socket closes with `owned`
            }
        }
    } else if (error != ERROR_OPERATION_ABORTED && ++disconnect_failures_ >= max_failure_streak &&
               disconnect_ != support::supported) {
        disconnect_ = support::unsupported;  // refused again and again, never worked: stop asking
    }
    idle_.notify_all();
}

void socket_pool::probe_expired(std::uint64_t id) noexcept {
    std::lock_guard lock(mutex_);
    if (in_flight_.count(id) == 0 || disconnect_ != support::unknown) {
        return;  // it completed: nothing to learn here
    }
    // Late, not refused: pause recycling until it completes (finish() turns it on then).
    disconnect_ = support::overdue;
    probing_ = false;  // overdue stops the explicit FINs through may_recycle() from now on
}

std::optional<pooled_socket> socket_pool::take(bool ipv6, reuse_use use) noexcept {
    if (state(use) == support::unsupported) {
        return std::nullopt;
    }
    std::lock_guard lock(mutex_);
    auto& sockets = pooled_[ipv6 ? 1 : 0];
    // Only the call a socket came from may take it again (see the top of socket_pool.h).
    for (auto it = sockets.rbegin(); it != sockets.rend(); ++it) {
        if (it->origin == use) {
            pooled_socket out = std::move(*it);
            sockets.erase(std::next(it).base());
            return out;
        }
    }
    return std::nullopt;
}

void socket_pool::report(reuse_use use, bool worked) noexcept {
    std::atomic<unsigned>& streak = use == reuse_use::accept ? accept_failures_ : connect_failures_;
    if (worked) {
        streak = 0;
        support expected = support::unknown;
        state(use).compare_exchange_strong(expected, support::supported);
        return;
    }
    // That socket is lost (the caller goes on with a new one); the feature only after a streak.
    if (streak.fetch_add(1) + 1 >= max_failure_streak) {
        state(use).store(support::unsupported);
    }
}

bool socket_pool::supported(reuse_use use) const noexcept { return state(use) == support::supported; }

// stop() only. The cancels are made without the lock: recycle() adds nothing once draining_ is
// set, and finish() defers while cancelling_ is, so in_flight_ does not change under the loop.
void socket_pool::drain() noexcept {
    std::unique_lock lock(mutex_);
    draining_ = true;
    cancelling_ = true;
    lock.unlock();
    for (const auto& [id, op] : in_flight_) {
        sys().cancel_io_ex(reinterpret_cast<HANDLE>(op->socket.get()), op);
    }
    lock.lock();
    cancelling_ = false;
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        if (!it->second->deferred) {
            ++it;
            continue;
        }
        disconnect_operation* const op = it->second;
        lock.unlock();
        finish(op, op->deferred_error);  // erases it from in_flight_
        lock.lock();
        it = in_flight_.begin();
    }
    // A platform where disconnects complete completes cancelled ones at once. While that is still
    // unknown (a probe in flight), a short wait tells: Wine completes it neither way.
    const std::chrono::milliseconds bound =
        disconnect_ == support::supported ? std::chrono::milliseconds(10'000) : std::chrono::milliseconds(200);
    if (idle_.wait_for(lock, bound, [this] { return in_flight_.empty(); })) {
        return;
    }
    // Abandoned: each is freed only if it completes after all (finish); their sockets close now,
    // one at a time outside the lock.
    while (!in_flight_.empty()) {
        const auto first = in_flight_.begin();
        unique_socket abandoned = std::move(first->second->socket);
        in_flight_.erase(first);
        lock.unlock();
        abandoned.reset();
        lock.lock();
    }
}

void socket_pool::clear() noexcept {
    std::vector<pooled_socket> closing[2];
    {
        std::lock_guard lock(mutex_);
        closing[0].swap(pooled_[0]);
        closing[1].swap(pooled_[1]);
    }
}  // the sockets close here, outside the lock

}  // namespace wire::detail
