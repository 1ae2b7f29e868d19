// A connection's lifetime: the accepted start, the public entry points, settle (what a locked
// section leaves for after the unlock), finalize and the busy count (win/teardown.h). Its other
// concerns each have a file: connection_connect.cpp (connecting and opening), connection_io.cpp
// (receiving and sending), connection_close.cpp (closing and deadlines), connection_tasks.cpp
// (the strand, posted work and timers).
#include "win/connection_impl.h"

#include <wire/error.h>

#include "win/connection_registry.h"
#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/system_calls.h"

namespace wire::detail {

namespace {

timer_queue::clock::rep now_ticks() noexcept { return timer_queue::clock::now().time_since_epoch().count(); }

// RST instead of FIN when the socket is closed: nothing queued is delivered.
void reset_on_close(SOCKET s) noexcept {
    const linger reset{1, 0};
    sys().setsockopt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&reset), sizeof(reset));
}

}  // namespace

connection_impl::connection_impl(const connection_context& context, std::unique_ptr<connection_handler> handler,
                                 reuse_use origin)
    : context_(context),
      counters_(context.counters),
      handler_(std::move(handler)),
      layer_(dynamic_cast<connection_layer*>(handler_.get())),
      id_(context.next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      origin_(origin),
      last_activity_(now_ticks()),
      connector_(context, *this, &on_connect),
      receiver_(context, *this, &on_receive),
      sender_(context, *this, &on_send) {
    engine_counters::add(counters_->connection_objects);
}

// May run after the engine is gone (a user handle outlived it): touches nothing of the engine's
// but the shared counters.
connection_impl::~connection_impl() { engine_counters::sub(counters_->connection_objects); }

// ---- start -------------------------------------------------------------------------------------

void connection_impl::start_accepted(accepted_socket accepted) noexcept {
    lock_type lock(mutex_);
    if (state_ != connection_state::connecting) {
        // stop() closed it between registration and here: its finalization is posted or done.
        lock.unlock();
        reset_on_close(accepted.socket.get());
        return;  // the socket closes on the way out
    }
    socket_ = std::move(accepted.socket);
    skips_port_ = accepted.skips_port;
    local_ = accepted.local;
    remote_ = accepted.remote;
    transition(connection_state::open);
    opened_ = true;
    opening_ = true;
    add_busy();  // held across on_open, then handed to the first receive
    open_connection(lock);
}

void connection_impl::fail_start(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    engine_counters::add(counters_->connect_failures);
    enter_closed(reason, true);
    settle(lock, false);
}

// ---- public entry points -----------------------------------------------------------------------

std::error_code connection_impl::send(gsl::span<const std::byte> data, bool admitted) noexcept {
    lock_type lock(mutex_);
    if (state_ != connection_state::open && state_ != connection_state::connecting) {
        return make_error_code(error::not_connected);
    }
    if (data.empty()) {
        return {};
    }
    if (const std::error_code refused = sender_.enqueue(data, admitted); refused) {
        return refused;
    }
    if (state_ == connection_state::open && flush(lock) && queue_drained()) {
        request_post(post_strand);  // never call back inside send()
    }
    settle(lock, false);
    return {};
}

std::error_code connection_impl::admit(std::size_t size) noexcept {
    lock_type lock(mutex_);
    if (state_ != connection_state::open && state_ != connection_state::connecting) {
        return make_error_code(error::not_connected);
    }
    return sender_.admit(size);
}

std::error_code connection_impl::send_through_layer(const connection& handle, gsl::span<const std::byte> data) noexcept {
    lock_type lock(mutex_);
    if (state_ != connection_state::open && state_ != connection_state::connecting) {
        return make_error_code(error::not_connected);
    }
    add_busy();  // finalize (which destroys the layer) waits for it
    lock.unlock();
    const std::error_code result = layer_->send(handle, data);
    lock.lock();
    release_busy(lock, false);
    return result;
}

void connection_impl::close_through_layer(const connection& handle) noexcept {
    lock_type lock(mutex_);
    if (state_ != connection_state::open && state_ != connection_state::connecting) {
        lock.unlock();
        close();  // closing or closed already: no goodbye of the layer's is due
        return;
    }
    add_busy();
    lock.unlock();
    layer_->close(handle);
    lock.lock();
    release_busy(lock, false);
}

void connection_impl::close(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    enter_closing(lock, reason);
    settle(lock, false);
}

void connection_impl::abort(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    enter_closed(reason ? reason : make_error_code(error::aborted), true);
    settle(lock, false);
}

void connection_impl::pause_receiving() noexcept {
    lock_type lock(mutex_);
    // Once closing, a receive must run to see the peer's FIN (enter_closing made sure one does):
    // pausing then would turn every graceful close into a close_timeout abort.
    if (state_ == connection_state::connecting || state_ == connection_state::open) {
        paused_ = true;
    }
}

void connection_impl::resume_receiving() noexcept {
    lock_type lock(mutex_);
    if (!paused_) {
        return;
    }
    paused_ = false;
    if (is_readable(state_) && !receive_active_) {
        request_post(post_resume);  // the receive starts on a worker, never inside this call
    }
    settle(lock, false);
}

// ---- lifetime ----------------------------------------------------------------------------------

void connection_impl::request_post(pending_work work) noexcept {
    if ((posted_ & work) != 0) {
        return;  // at most one packet per control operation
    }
    posted_ |= work;
    pending_work_ |= work;
    add_busy();
}

void connection_impl::release_busy(lock_type& lock, bool on_worker) noexcept {
    drop_busy();
    settle(lock, on_worker);
}

void connection_impl::settle(lock_type& lock, bool on_worker) noexcept {
    constexpr unsigned cancels = cancel_receive | cancel_send | cancel_connect;
    for (;;) {
        if (state_ == connection_state::closed && busy_ == 0) {
            pending_work_ &= ~cancels;  // nothing is outstanding any more
            if (on_worker) {
                transition(connection_state::finalized);
                lock.unlock();
                finalize();  // may destroy *this: nothing may follow
                return;
            }
            request_post(post_finalize);  // on_close runs on a worker, never inside a user's call
        }
        const unsigned work = std::exchange(pending_work_, 0U);
        const bool comes_back = (work & (cancels | arm_deadline)) != 0;
        if (comes_back) {
            add_busy();  // keeps the socket handle open across the cancels, *this alive for the deadline
        }
        const SOCKET socket = socket_.get();
        // The generation the deadline was wanted in, not today's: a connect that completed (or a
        // close that ended) since then has dropped it, and adopt_deadline cancels it then.
        const std::uint64_t generation = deadline_wanted_generation_;
        const std::chrono::milliseconds deadline_after = deadline_after_;
        lock.unlock();
        if ((work & cancel_receive) != 0) {
            receiver_.cancel(socket);
        }
        if ((work & cancel_send) != 0) {
            sender_.cancel(socket);
        }
        if ((work & cancel_connect) != 0) {
            connector_.cancel();
            if (resolution_) {
                resolution_->cancel();  // set before the lookup started, kept until finalize
            }
        }
        // Each posted packet holds a busy unit, so *this stays alive until it is handled.
        if ((work & post_resume) != 0) {
            context_.port.post(resume_op_, ERROR_SUCCESS);
        }
        if ((work & post_strand) != 0) {
            context_.port.post(strand_op_, ERROR_SUCCESS);
        }
        if ((work & post_finalize) != 0) {
            context_.port.post(finalize_op_, ERROR_SUCCESS);
        }
        std::optional<timer_queue::timer_id> armed;
        if ((work & arm_deadline) != 0) {
            try {
                armed = context_.timers.schedule_after(deadline_after, [weak = weak_from_this(), generation] {
                    if (const auto self = weak.lock()) {
                        self->deadline_expired(generation);
                    }
                });
            } catch (const std::bad_alloc&) {
                // adopt_deadline decides
            }
        }
        if (!comes_back) {
            return;
        }
        lock.lock();
        if ((work & arm_deadline) != 0) {
            adopt_deadline(armed, generation);
        }
        drop_busy();  // then look again: finalization may be due now
    }
}

void connection_impl::on_resume(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    connection_impl& self = *static_cast<control_operation&>(op).owner;
    {
        std::lock_guard lock(self.mutex_);
        self.posted_ &= ~static_cast<unsigned>(post_resume);
    }
    self.begin_receiving();  // the posted packet's busy unit passes on
}

void connection_impl::on_finalize_notice(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    connection_impl& self = *static_cast<control_operation&>(op).owner;
    lock_type lock(self.mutex_);
    self.posted_ &= ~static_cast<unsigned>(post_finalize);
    self.release_busy(lock, true);
}

// Runs on a worker once the state is finalized: no other thread touches the connection's engine
// side any more.
void connection_impl::finalize() noexcept {
    const std::shared_ptr<connection_impl> self = shared_from_this();  // outlives the registry's
    dispose_socket();
    if (origin_ == reuse_use::accept && !opened_) {
        // Accepted, then closed (stop()) before it opened: its handler saw no event and gets none
        // (on_open comes first or not at all). It is a rejection, reported as such.
        engine_counters::add(counters_->connections_rejected);
        if (const auto& observer = context_.options.on_rejected) {
            try {
                observer(remote_, reason_);
            } catch (...) {
                // An observer must not throw; if it does, the rejection still happened.
            }
        }
    } else {
        assert(!strand_.running() && strand_.empty());  // every task held a busy unit
        connection handle(self);
        handler_->on_close(handle, reason_);
    }
    handler_.reset();  // the handler may hold handles to this connection: drop them now
    receiver_.release();
    {
        std::lock_guard lock(mutex_);
        sender_.discard();  // nothing is outstanding: gives the engine-wide budget back
    }
    engine_counters::add(counters_->connections_closed);
    engine_counters::sub(counters_->connections_open);
    if (holds_slot_) {
        context_.registry.release_slot();
    }
    context_.registry.remove(this);  // last use of the engine
}

void connection_impl::dispose_socket() noexcept {
    connector_.discard();  // a failed connect's socket, if any
    unique_socket socket = std::move(socket_);
    if (!socket) {
        return;
    }
    if (socket_pool::eligible(close_facts_)) {
        context_.sockets.recycle(std::move(socket), remote_.is_v6(), skips_port_, origin_);
        return;
    }
    if (close_facts_.abortive) {
        reset_on_close(socket.get());
    }
}

void connection_impl::add_busy() noexcept {
    ++busy_;
    engine_counters::add(counters_->operations_pending);
}

void connection_impl::drop_busy() noexcept {
    assert(busy_ > 0);
    --busy_;
    engine_counters::sub(counters_->operations_pending);
}

// ---- queries -----------------------------------------------------------------------------------

void connection_impl::touch() noexcept { last_activity_.store(now_ticks(), std::memory_order_relaxed); }

timer_queue::clock::duration connection_impl::idle_for(timer_queue::clock::time_point now) const noexcept {
    return now - timer_queue::clock::time_point(timer_queue::clock::duration(last_activity_.load(std::memory_order_relaxed)));
}

void connection_impl::park_receive_if_quiet(timer_queue::clock::time_point now) noexcept {
    if (!receiver_.parkable(now)) {
        return;
    }
    lock_type lock(mutex_);
    if (state_ != connection_state::open || !receive_active_) {
        return;
    }
    add_busy();  // keeps the socket handle open across the cancel
    const SOCKET socket = socket_.get();
    lock.unlock();
    receiver_.request_park(socket);
    lock.lock();
    release_busy(lock, false);
}

std::size_t connection_impl::queued_bytes() const noexcept {
    std::lock_guard lock(mutex_);
    return sender_.queued();
}

bool connection_impl::is_open() const noexcept {
    std::lock_guard lock(mutex_);
    return state_ == connection_state::open;
}

endpoint connection_impl::local_endpoint() const noexcept {
    std::lock_guard lock(mutex_);
    return local_;
}

endpoint connection_impl::remote_endpoint() const noexcept {
    std::lock_guard lock(mutex_);
    return remote_;
}

}  // namespace wire::detail
