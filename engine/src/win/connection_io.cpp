// A connection's data flows: the connect completion, the receive loop and the send flush. Each
// system call is made without the connection's lock, under a busy unit (see connection_impl.h).
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

// ---- connect -----------------------------------------------------------------------------------

void connection_impl::on_connect(operation& op, DWORD error, DWORD bytes) noexcept {
    static_cast<control_operation&>(op).owner->handle_connect(error, bytes);
}

WSABUF connection_impl::connect_payload() noexcept {
    if (!connect_sends_ && !sender_.has_data()) {
        return {};
    }
    connect_sends_ = true;  // the sender is active: nothing else sends until the connect is done
    return sender_.gather_front();
}

void connection_impl::on_resolved(operation& op, DWORD error, DWORD /*bytes*/) noexcept {
    auto& resolution = static_cast<name_resolution&>(op);
    resolution.owner->handle_resolved(resolution.finish(error));
}

void connection_impl::handle_resolved(DWORD error) noexcept {
    lock_type lock(mutex_);
    if (state_ != connection_state::connecting || error != ERROR_SUCCESS) {
        connect_active_ = false;
        engine_counters::add(counters_->connect_failures);
        release_socket(to_error_code(error), true);  // keeps an earlier reason (timeout, abort)
        release_busy(lock, true);
        return;
    }
    next_address_ = 0;
    if (!try_next_address(lock)) {
        connect_active_ = false;  // (cannot happen: finish() reports a name without addresses)
        release_socket(to_error_code(WSAHOST_NOT_FOUND), true);
        release_busy(lock, true);
    }
}

bool connection_impl::try_next_address(lock_type& lock) noexcept {
    if (!resolution_ || next_address_ >= resolution_->addresses().size()) {
        return false;
    }
    remote_ = resolution_->addresses()[next_address_++];
    reissue_connect(lock, true);
    return true;
}

void connection_impl::reissue_connect(lock_type& lock, bool allow_recycled) noexcept {
    connect_active_ = true;  // the failed attempt's (or the lookup's) busy unit goes with this one
    add_busy();              // issuing
    const WSABUF payload = connect_payload();  // the same first bytes: none left with a failure
    const endpoint remote = remote_;
    lock.unlock();
    connector_.discard();
    if (const DWORD error = connector_.issue(remote, allow_recycled, payload); error != ERROR_SUCCESS) {
        context_.port.post(connector_.op(), error);
    }
    lock.lock();
    if (state_ == connection_state::closed && connect_active_) {
        pending_work_ |= cancel_connect;  // a close raced the issue and may have missed it
    }
    release_busy(lock, true);  // may finalize: the caller returns at once
}

void connection_impl::handle_connect(DWORD error, DWORD bytes) noexcept {
    lock_type lock(mutex_);
    connect_active_ = false;
    if (state_ == connection_state::connecting && error != ERROR_SUCCESS && connector_.used_recycled()) {
        // The failure may be the reuse itself (Wine 8: WSAEISCONN): that socket is lost; retry
        // this connect on a new one. The connect's busy unit goes with the new attempt.
        context_.sockets.report(reuse_use::connect, false);
        reissue_connect(lock, false);
        return;
    }
    if (state_ == connection_state::connecting && error != ERROR_SUCCESS && try_next_address(lock)) {
        return;  // refused or unreachable there: the next address the name resolved to is tried
    }
    if (connect_sends_) {
        connect_sends_ = false;
        // The rest leaves with the first flush.
        if (!sender_.completed(error == ERROR_SUCCESS ? bytes : 0)) {
            error = ERROR_INVALID_DATA;  // more reported than was given: the stream is lost
        }
        if (state_ == connection_state::closed) {
            sender_.discard();  // a close while connecting left the queue to this completion
        }
    }
    drop_deadline();
    if (state_ != connection_state::connecting || error != ERROR_SUCCESS) {
        engine_counters::add(counters_->connect_failures);
        release_socket(to_error_code(error), true);  // keeps an earlier reason (timeout, abort)
        release_busy(lock, true);
        return;
    }
    lock.unlock();
    // The connect's busy unit is held: the connection cannot finalize under these calls.
    unique_socket connected;
    bool skips_port = false;
    const std::error_code failure = connector_.finish(connected, skips_port);
    const endpoint local = failure ? endpoint{} : local_endpoint_of(connected.get());
    lock.lock();
    if (!failure) {
        socket_ = std::move(connected);  // finalize disposes of it whatever happens next
        skips_port_ = skips_port;
    }
    if (failure || state_ != connection_state::connecting) {
        engine_counters::add(counters_->connect_failures);
        release_socket(failure, true);  // no-op when a close came first: its reason stands
        release_busy(lock, true);
        return;
    }
    local_ = local;
    transition(connection_state::open);
    opened_ = true;
    opening_ = true;
    engine_counters::add(counters_->connections_connected);
    lock.unlock();
    open_connection();  // the connect's busy unit passes to the first receive
}

void connection_impl::open_connection() noexcept {
    touch();
    lock_type lock(mutex_);
    run_or_queue(lock, open_task_, true);  // the open's busy unit goes with the task
}

bool connection_impl::run_open(connection_task& task, lock_type& lock) noexcept {
    connection_impl& self = *task.owner;
    lock.unlock();
    {
        connection handle(self.shared_from_this());
        self.handler_->on_open(handle);
    }
    lock.lock();
    self.finish_opening(lock);
    self.begin_receiving();
    return false;  // the task's unit went to the first receive
}

void connection_impl::finish_opening(lock_type& lock) noexcept {
    opening_ = false;
    // What send() queued while on_open ran leaves now (on_drained cannot overtake on_open: it is
    // queued behind this task), and a close asked for meanwhile sends its FIN once that is out.
    if (flush(lock)) {
        (void)queue_drained();  // this strand is running: its runner takes the task
    }
    settle(lock, true);  // unlocks; cannot finalize: the unit for the first receive is held
}

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
                receiver_.park();
                lock.unlock();
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
        release_socket(to_error_code(error), true);  // after our own close its reason stands
    } else {
        peer_fin_ = true;
        // A FIN that arrives while our shutdown() is still in its call may be the answer to ours:
        // not a passive close (recycling that socket would meet our TIME_WAIT).
        close_facts_.peer_closed_first = !close_facts_.fin_sent && !fin_sending_;
        if (state_ == connection_state::shutdown_sent) {
            release_socket({}, false);  // both FINs exchanged: a clean close
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
        release_socket(to_error_code(error), true);
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
            release_socket(to_error_code(error), true);
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

void connection_impl::send_fin(lock_type& lock) noexcept {
    if (peer_fin_ && !context_.sockets.needs_explicit_fin(origin_)) {
        // The peer closed first and nothing is queued: closesocket's graceful close sends our FIN.
        close_facts_.fin_sent = true;
        release_socket({}, false);
        return;
    }
    fin_sending_ = true;
    add_busy();  // issuing
    const SOCKET socket = socket_.get();
    lock.unlock();
    const bool sent = sys().shutdown(socket, SD_SEND) != SOCKET_ERROR;
    const std::error_code failure = sent ? std::error_code{} : last_socket_error();
    lock.lock();
    drop_busy();
    fin_sending_ = false;
    if (state_ != connection_state::closing) {
        return;  // reset meanwhile
    }
    if (!sent) {
        release_socket(failure, true);
        return;
    }
    transition(connection_state::shutdown_sent);
    close_facts_.fin_sent = true;
    close_facts_.fin_by_shutdown = true;
    if (peer_fin_) {
        release_socket({}, false);
    }
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
