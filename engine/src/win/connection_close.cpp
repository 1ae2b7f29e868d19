// A connection's way down: the graceful close (flush, FIN, the peer's FIN within close_timeout),
// the abortive one, the deadlines that bound connecting and closing, and the first reason kept.
// The socket itself goes at finalize (connection_impl.cpp).
#include "win/connection_impl.h"

#include <wire/error.h>

#include "win/error_mapping.h"
#include "win/system_calls.h"

namespace wire::detail {

// ---- close -------------------------------------------------------------------------------------

void connection_impl::transition(connection_state to) noexcept {
    assert(may_transition(state_, to));
    state_ = to;
}

void connection_impl::enter_closing(lock_type& lock, std::error_code reason) noexcept {
    if (state_ == connection_state::connecting) {
        enter_closed(reason ? reason : make_error_code(error::aborted), true);
        return;
    }
    if (state_ != connection_state::open) {
        return;  // already closing or closed
    }
    if (reason) {
        set_reason(reason);
    }
    transition(connection_state::closing);
    if (flush(lock) && queue_drained()) {
        request_post(post_strand);  // never call back inside close() (nor a caller's lock)
    }
    if (state_ != connection_state::closing && state_ != connection_state::shutdown_sent) {
        return;  // flushed and both FINs exchanged already (or reset meanwhile): no deadline needed
    }
    want_deadline(context_.options.close_timeout);
    // The peer's FIN can only be seen by a receive: make sure one runs.
    paused_ = false;
    if (!receive_active_ && !peer_fin_) {
        request_post(post_resume);
    }
}

void connection_impl::enter_closed(std::error_code reason, bool abortive) noexcept {
    if (state_ == connection_state::closed || state_ == connection_state::finalized) {
        return;
    }
    set_reason(reason);
    transition(connection_state::closed);
    close_facts_.abortive = close_facts_.abortive || abortive;
    drop_deadline();
    cancel_timers();  // the application's timers die with the connection
    // Outstanding operations are cancelled by name (settle, after the unlock); the socket itself
    // stays open until finalize, so any thread still holding a busy unit may use its handle.
    if (receive_active_) {
        pending_work_ |= cancel_receive;
    }
    if (sender_.active() && !connect_sends_) {
        pending_work_ |= cancel_send;  // (bytes riding in a ConnectEx go with the connect's cancel)
    } else {
        sender_.discard();  // otherwise the outstanding WSASend still reads it: dropped at its completion
    }
    if (connect_active_) {
        pending_work_ |= cancel_connect;
    }
}

void connection_impl::want_deadline(std::chrono::milliseconds after) noexcept {
    drop_deadline();
    deadline_after_ = after;
    deadline_wanted_generation_ = deadline_generation_;
    pending_work_ |= arm_deadline;
}

void connection_impl::adopt_deadline(std::optional<timer_queue::timer_id> armed, std::uint64_t generation) noexcept {
    if (generation != deadline_generation_) {
        if (armed) {
            context_.timers.cancel(*armed);  // dropped or replaced while it was being scheduled
        }
        return;
    }
    if (armed) {
        deadline_ = *armed;
        return;
    }
    if (state_ == connection_state::closing || state_ == connection_state::shutdown_sent) {
        enter_closed(reason_, true);  // no memory for the timer: a close it cannot bound is made now
    }
}

void connection_impl::drop_deadline() noexcept {
    ++deadline_generation_;  // a deadline wanted before now is armed by nobody, or cancelled by adopt_deadline
    pending_work_ &= ~static_cast<unsigned>(arm_deadline);
    if (deadline_) {
        context_.timers.cancel(*deadline_);
        deadline_.reset();
    }
}

void connection_impl::deadline_expired(std::uint64_t generation) noexcept {
    lock_type lock(mutex_);
    if (generation != deadline_generation_) {
        return;  // the connect completed, or the close finished, while this callback was starting
    }
    deadline_.reset();
    enter_closed(make_error_code(error::timed_out), true);
    settle(lock, false);
}

void connection_impl::set_reason(std::error_code reason) noexcept {
    if (!reason_set_) {
        reason_ = reason;
        reason_set_ = true;
    }
}

void connection_impl::send_fin(lock_type& lock) noexcept {
    if (peer_fin_ && !context_.sockets.needs_explicit_fin(origin_)) {
        // The peer closed first and nothing is queued: closesocket's graceful close sends our FIN.
        close_facts_.fin_sent = true;
        enter_closed({}, false);
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
        enter_closed(failure, true);
        return;
    }
    transition(connection_state::shutdown_sent);
    close_facts_.fin_sent = true;
    close_facts_.fin_by_shutdown = true;
    if (peer_fin_) {
        enter_closed({}, false);
    }
}

}  // namespace wire::detail
