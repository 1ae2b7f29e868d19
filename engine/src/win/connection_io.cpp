// A connection's data flows: the receive loop and the send flush. Each system call is made
// without the connection's lock, under a busy unit (see connection_impl.h).
#include "win/connection_impl.h"

#include <wire/error.h>

#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/system_calls.h"

namespace wire::detail {

namespace {

// Whether a failed receive was the idle sweep's cancel. Only the sweep cancels a receive while the
// connection is readable (a close makes it closed first), so an abort seen while readable is one,
// even when data raced the sweep and cleared its request before the cancel reached this receive
// (the request flag is only needed for ERROR_NETNAME_DELETED, which is also how a peer's reset may
// read). The caller checks readability.
bool is_park_cancel(DWORD error, bool park_requested) noexcept {
    if (error == ERROR_OPERATION_ABORTED || error == ERROR_REQUEST_ABORTED) {
        return true;
    }
    return park_requested && to_error_code(error, cancellation::by_engine) == error::aborted;
}

}  // namespace

// ---- receive -----------------------------------------------------------------------------------

void connection_impl::on_receive(operation& op, DWORD error, DWORD bytes) noexcept {
    static_cast<control_operation&>(op).owner->receive_loop(error, bytes);
}

void connection_impl::begin_receiving() noexcept {
    lock_type lock(mutex_);
    if (!is_readable(state_) || receive_active_ || paused_ || peer_fin_) {
        release_busy(lock, true);
        return;
    }
    receive_active_ = true;
    add_busy();  // issuing
    lock.unlock();
    DWORD error = 0;
    DWORD bytes = 0;
    if (issue_receive(error, bytes)) {
        receive_loop(error, bytes);
    }
}

bool connection_impl::continue_receiving() noexcept {
    lock_type lock(mutex_);
    if (!is_readable(state_) || paused_) {
        receive_active_ = false;
        release_busy(lock, true);
        return false;
    }
    add_busy();  // issuing
    return true;  // `lock` unlocks on the way out
}

bool connection_impl::issue_receive(DWORD& error, DWORD& bytes) noexcept {
    // socket_ is fixed while readable, and the issuing unit keeps it open.
    const bool finished = receiver_.issue(socket_.get(), skips_port_, error, bytes);
    lock_type lock(mutex_);
    if (!finished && state_ == connection_state::closed) {
        pending_work_ |= cancel_receive;  // a close raced the issue and may have missed it
    }
    // When the receive is pending its unit went with it, and this may finalize: return at once.
    release_busy(lock, true);
    return finished;
}

// Runs on a worker holding the receive's busy unit. Receives that keep finishing at once loop
// through the strand (run_delivery queues the next one), which yields to other work after its
// fair share.
void connection_impl::receive_loop(DWORD error, DWORD bytes) noexcept {
    for (;;) {
        if (error == ERROR_SUCCESS && receiver_.completed_probe()) {
            // The zero-byte receive says the socket is readable: read for real (data or FIN).
            if (!continue_receiving() || !issue_receive(error, bytes)) {
                return;
            }
            continue;
        }
        if (error != ERROR_SUCCESS && is_park_cancel(error, receiver_.take_park_request())) {
            // Cancelled by the idle sweep (a close leaves the state closed instead): the
            // connection is quiet. Had data arrived first, the receive would have completed with
            // it and the cancel found nothing or the next receive: no byte is lost either way.
            lock_type lock(mutex_);
            if (is_readable(state_)) {
                lock.unlock();
                // The buffer goes back to the pool, or to the system (VirtualFree) when the pool
                // is full: never under the lock. No receive is outstanding, so nothing else
                // touches the receiver meanwhile.
                receiver_.park();
                if (!continue_receiving() || !issue_receive(error, bytes)) {
                    return;
                }
                continue;
            }
        }
        if (error != ERROR_SUCCESS || bytes == 0) {
            end_receiving(error);
            return;
        }
        engine_counters::add(counters_->bytes_received, bytes);
        touch();
        lock_type lock(mutex_);
        delivered_bytes_ = bytes;
        run_or_queue(lock, delivery_task_, true);  // the receive's busy unit goes with the task
        return;
    }
}

bool connection_impl::run_delivery(connection_task& task, lock_type& lock) noexcept {
    connection_impl& self = *task.owner;
    const DWORD bytes = self.delivered_bytes_;
    lock.unlock();
    {
        connection handle(self.shared_from_this());
        self.handler_->on_data(handle, self.receiver_.data(bytes));
    }
    self.receiver_.after_delivery(bytes);
    DWORD error = ERROR_SUCCESS;
    DWORD next_bytes = 0;
    // The receive's unit goes on with the next receive. One that finishes at once queues its
    // delivery behind what else waits on this strand: the runner (this thread) takes it in turn.
    if (self.continue_receiving() && self.issue_receive(error, next_bytes)) {
        self.receive_loop(error, next_bytes);
    }
    return false;
}

void connection_impl::end_receiving(DWORD error) noexcept {
    lock_type lock(mutex_);
    receive_active_ = false;
    if (error != ERROR_SUCCESS) {
        enter_closed(to_error_code(error), true);  // after our own close its reason stands
    } else {
        peer_fin_ = true;
        // A FIN that arrives while our shutdown() is still in its call may be the answer to ours:
        // not a passive close (recycling that socket would meet our TIME_WAIT).
        close_facts_.peer_closed_first = !close_facts_.fin_sent && !fin_sending_;
        if (state_ == connection_state::shutdown_sent) {
            enter_closed({}, false);  // both FINs exchanged: a clean close
        } else {
            enter_closing(lock, make_error_code(error::end_of_stream));
        }
    }
    release_busy(lock, true);
}

// ---- send --------------------------------------------------------------------------------------

void connection_impl::on_send(operation& op, DWORD error, DWORD bytes) noexcept {
    static_cast<control_operation&>(op).owner->handle_send(error, bytes);
}

void connection_impl::handle_send(DWORD error, DWORD bytes) noexcept {
    lock_type lock(mutex_);
    if (!sender_.completed(error == ERROR_SUCCESS ? bytes : 0)) {
        error = ERROR_INVALID_DATA;  // more reported than was given: the stream is lost
    }
    if (error != ERROR_SUCCESS || state_ == connection_state::closed) {
        enter_closed(to_error_code(error), true);
        sender_.discard();  // the kernel no longer reads these blocks
        release_busy(lock, true);
        return;
    }
    if (bytes > 0) {
        touch();  // bytes leaving are activity too: a peer that only reads is not idle
    }
    if (flush(lock) && queue_drained()) {
        run_strand(lock);  // this send's busy unit becomes the runner's; may finalize
        return;
    }
    release_busy(lock, true);
}

bool connection_impl::flush(lock_type& lock) noexcept {
    if (opening_) {
        return false;  // finish_opening flushes once on_open has returned
    }
    while (is_writable(state_) && !sender_.active() && sender_.has_data()) {
        send_batch batch;  // this frame's: the completion may gather the next one on another worker
        sender_.gather(batch);  // marks the send active: no one else issues
        add_busy();  // the send operation's
        add_busy();  // issuing: keeps the handle open (send() may run on a thread holding none)
        const SOCKET socket = socket_.get();
        const bool skips_port = skips_port_;
        lock.unlock();
        DWORD error = ERROR_SUCCESS;
        DWORD sent = 0;
        const bool finished = sender_.issue(socket, batch, skips_port, error, sent);
        lock.lock();
        drop_busy();  // issuing (the caller settles: finalization is never due inside this loop)
        if (!finished) {
            if (state_ == connection_state::closed) {
                pending_work_ |= cancel_send;  // a close raced the issue and may have missed it
            }
            break;  // the completion finishes this send
        }
        drop_busy();  // the send finished inline: no packet will come
        if (!sender_.completed(sent)) {
            error = ERROR_INVALID_DATA;  // more reported than was given: the stream is lost
        }
        if (error != ERROR_SUCCESS) {
            enter_closed(to_error_code(error), true);
            sender_.discard();
            return false;
        }
        touch();
    }
    if (state_ == connection_state::closing && !sender_.active() && !sender_.has_data() && !fin_sending_) {
        send_fin(lock);
    }
    return state_ != connection_state::closed && sender_.take_drain_due();
}

bool connection_impl::queue_drained() noexcept {
    if (drained_queued_) {
        return false;  // one on_drained answers every reason it fell due meanwhile
    }
    drained_queued_ = true;
    add_busy();  // the task's: on_close cannot overtake it
    return strand_.push(drained_task_);
}

bool connection_impl::run_drained(connection_task& task, lock_type& lock) noexcept {
    connection_impl& self = *task.owner;
    self.drained_queued_ = false;
    const bool runs = self.state_ != connection_state::closed;
    lock.unlock();
    if (runs) {
        connection handle(self.shared_from_this());
        self.handler_->on_drained(handle);
    }
    return true;
}

}  // namespace wire::detail
