// A connection's way to open: the connect (by address, or by name through a lookup, trying each
// address in turn), the ConnectEx completion, and opening (on_open, then the first flush and the
// first receive). Each system call is made without the connection's lock, under a busy unit.
#include "win/connection_impl.h"

#include <wire/error.h>

#include "win/error_mapping.h"
#include "win/socket_address.h"

namespace wire::detail {

// ---- start -------------------------------------------------------------------------------------

void connection_impl::start_connect(const endpoint& remote, gsl::span<const std::byte> first_data) noexcept {
    lock_type lock(mutex_);
    remote_ = remote;
    if (state_ != connection_state::connecting) {
        return;  // closed by stop() between registration and here: finalization posted or done
    }
    if (!queue_first_data(lock, first_data)) {
        return;
    }
    add_busy();  // the connect operation, until handle_connect
    add_busy();  // issuing
    connect_active_ = true;
    // Without memory for a timer the connect still completes or fails on its own.
    want_deadline(context_.options.connect_timeout);
    const WSABUF payload = connect_payload();
    lock.unlock();

    if (const DWORD error = connector_.issue(remote, true, payload); error != ERROR_SUCCESS) {
        context_.port.post(connector_.op(), error);  // reported on a worker, never inside connect()
    }
    lock.lock();
    if (state_ == connection_state::closed && connect_active_) {
        pending_work_ |= cancel_connect;  // a close raced the issue and may have missed it
    }
    release_busy(lock, false);
}

bool connection_impl::queue_first_data(lock_type& lock, gsl::span<const std::byte> first_data) noexcept {
    if (first_data.empty()) {
        return true;
    }
    if (const std::error_code refused = sender_.enqueue(first_data); refused) {
        // Not queued (no memory, or larger than one send may be; an empty queue is never refused
        // for its caps): the connection cannot send these bytes first, so it fails.
        engine_counters::add(counters_->connect_failures);
        enter_closed(refused, true);
        settle(lock, false);
        return false;
    }
    return true;
}

void connection_impl::start_resolving(std::string_view host, std::uint16_t port,
                                      gsl::span<const std::byte> first_data) noexcept {
    std::unique_ptr<name_resolution> resolution;
    try {
        resolution = std::make_unique<name_resolution>(&on_resolved, context_.port, host, port);
    } catch (const std::bad_alloc&) {
        fail_start(std::make_error_code(std::errc::not_enough_memory));
        return;
    }
    lock_type lock(mutex_);
    if (state_ != connection_state::connecting) {
        return;  // closed by stop() between registration and here
    }
    if (!queue_first_data(lock, first_data)) {
        return;
    }
    resolution_ = std::move(resolution);
    resolution_->owner = this;
    add_busy();  // the lookup, until handle_resolved; then the connect's
    add_busy();  // issuing
    connect_active_ = true;  // a close cancels the lookup (then the connect) through cancel_connect
    want_deadline(context_.options.connect_timeout);  // covers the lookup too
    lock.unlock();
    if (const DWORD error = resolution_->start(); error != ERROR_SUCCESS) {
        context_.port.post(*resolution_, error);  // reported on a worker, never inside connect()
    }
    lock.lock();
    if (state_ == connection_state::closed && connect_active_) {
        pending_work_ |= cancel_connect;  // a close raced the start and may have missed it
    }
    release_busy(lock, false);
}

// ---- the connect completes ---------------------------------------------------------------------

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
        enter_closed(to_error_code(error), true);  // keeps an earlier reason (timeout, abort)
        release_busy(lock, true);
        return;
    }
    next_address_ = 0;
    if (!try_next_address(lock)) {
        connect_active_ = false;  // (cannot happen: finish() reports a name without addresses)
        enter_closed(to_error_code(WSAHOST_NOT_FOUND), true);
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
        enter_closed(to_error_code(error), true);  // keeps an earlier reason (timeout, abort)
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
        enter_closed(failure, true);  // no-op when a close came first: its reason stands
        release_busy(lock, true);
        return;
    }
    local_ = local;
    transition(connection_state::open);
    opened_ = true;
    opening_ = true;
    engine_counters::add(counters_->connections_connected);
    open_connection(lock);  // the connect's busy unit passes to the first receive
}

void connection_impl::open_connection(lock_type& lock) noexcept {
    touch();
    // Queued under the lock that made the connection open: whatever the open lets start (a
    // receive resumed, a close) queues its callbacks behind on_open.
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

}  // namespace wire::detail
