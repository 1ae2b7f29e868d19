#include "win/connection_impl.h"

#include <wire/error.h>

#include "win/engine_core.h"
#include "win/error_mapping.h"
#include "win/socket_address.h"

#include <gsl/narrow>

#include <algorithm>

namespace wire::detail {

namespace {

timer_queue::clock::rep now_ticks() noexcept { return timer_queue::clock::now().time_since_epoch().count(); }

HANDLE as_handle(SOCKET s) noexcept { return reinterpret_cast<HANDLE>(s); }

}  // namespace

connection_impl::connection_impl(std::shared_ptr<engine_core> engine, std::unique_ptr<connection_handler> handler)
    : engine_(std::move(engine)),
      handler_(std::move(handler)),
      id_(engine_->next_connection_id()),
      receive_buffer_size_(engine_->options().receive_buffer_size),
      last_activity_(now_ticks()),
      last_received_(now_ticks()) {
    engine_counters::add(engine_->counters().connection_objects);
}

connection_impl::~connection_impl() {
    engine_->release_send_bytes(queue_.size());
    engine_counters::sub(engine_->counters().connection_objects);
}

// ---- start -------------------------------------------------------------------------------------

void connection_impl::start_accepted(unique_socket socket, bool associated, bool skips_port, bool no_delay_set,
                                     const endpoint& local, const endpoint& remote) noexcept {
    lock_type lock(mutex_);
    if (state_ != state::connecting) {
        // stop() closed it between registration and here: its finalization is posted or done.
        const linger reset_on_close{1, 0};
        ::setsockopt(socket.get(), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&reset_on_close),
                     sizeof(reset_on_close));
        return;  // `socket` is reset on the way out
    }
    socket_ = std::move(socket);
    local_ = local;
    remote_ = remote;
    skips_port_ = skips_port;
    if (!associated) {
        if (const std::error_code ec = engine_->associate(socket_.get(), skips_port_); ec) {
            release_socket(lock, ec, true);
            add_busy();
            release_busy(lock, true);  // finalizes: on_close without on_open
            return;
        }
    }
    if (!no_delay_set) {
        set_no_delay(socket_.get());
    }
    state_ = state::open;
    opened_ = true;
    opening_ = true;
    add_busy();  // held across on_open, then handed to the first receive
    lock.unlock();

    touch();
    connection handle(shared_from_this());
    handler_->on_open(handle);
    finish_opening();
    begin_receiving();
}

void connection_impl::finish_opening() noexcept {
    lock_type lock(mutex_);
    opening_ = false;
    // What send() queued while on_open ran leaves now (on_drained cannot overtake on_open).
    bool drained = false;
    if ((state_ == state::open || state_ == state::closing) && !send_active_ && !queue_.empty()) {
        drained = pump_send(lock);
    }
    lock.unlock();
    if (drained) {
        notify_drained();
    }
}

void connection_impl::start_connect(const endpoint& remote) noexcept {
    lock_type lock(mutex_);
    remote_ = remote;
    if (state_ != state::connecting) {
        return;  // closed by stop() between registration and here: finalization posted or done
    }
    from_connect_ = true;
    add_busy();  // the connect operation, until handle_connect
    try {
        deadline_ = engine_->timers().schedule_after(engine_->options().connect_timeout, [weak = weak_from_this()] {
            if (const auto self = weak.lock()) {
                self->abort(make_error_code(error::timed_out));
            }
        });
    } catch (const std::bad_alloc&) {
        deadline_.reset();  // no timer memory: the connect still completes or fails on its own
    }
    if (const DWORD error = issue_connect(lock); error != ERROR_SUCCESS) {
        engine_->post(connect_op_, error);  // report on a worker, never inside connect()
    }
}

DWORD connection_impl::issue_connect(lock_type& /*lock*/) noexcept {
    const bool ipv6 = remote_.is_v6();
    for (;;) {
        recycled_socket_ = false;
        if (auto pooled = engine_->sockets().take(ipv6, reuse_use::connect)) {
            socket_ = std::move(pooled->socket);
            skips_port_ = pooled->skips_port;
            recycled_socket_ = true;  // still bound and on the port
        } else {
            std::error_code ec;
            socket_ = make_tcp_socket(ipv6, ec);
            if (!ec) {
                ec = engine_->associate(socket_.get(), skips_port_);
            }
            if (!ec) {
                // ConnectEx needs a bound socket.
                const endpoint any = ipv6 ? endpoint::any_v6(0) : endpoint::any_v4(0);
                if (::bind(socket_.get(), as_sockaddr(any), any.size()) == SOCKET_ERROR) {
                    ec = last_socket_error();
                }
            }
            if (ec) {
                // Keep a Winsock/Win32 number: the completion maps it again.
                return ec.category() == std::system_category() ? static_cast<DWORD>(ec.value())
                                                               : static_cast<DWORD>(WSAENOTSOCK);
            }
            set_no_delay(socket_.get());
        }
        connect_op_.reset_overlapped();
        if (engine_->extensions().connect_ex(socket_.get(), as_sockaddr(remote_), remote_.size(), nullptr, 0, nullptr,
                                             &connect_op_) != FALSE) {
            if (skips_port_) {
                engine_->post(connect_op_, ERROR_SUCCESS);  // on_open runs on a worker, not here
            }
            return ERROR_SUCCESS;
        }
        const int error = ::WSAGetLastError();
        if (error == ERROR_IO_PENDING) {
            return ERROR_SUCCESS;
        }
        if (!recycled_socket_) {
            return static_cast<DWORD>(error);
        }
        engine_->sockets().report(reuse_use::connect, false);  // this platform cannot: fresh socket
        socket_.reset();
    }
}

void connection_impl::fail_start(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    engine_counters::add(engine_->counters().connect_failures);
    release_socket(lock, reason, true);
    settle(lock, false);
}

void connection_impl::on_connect(operation& op, DWORD error, DWORD /*bytes*/) noexcept {
    static_cast<connect_operation&>(op).owner->handle_connect(error);
}

void connection_impl::handle_connect(DWORD error) noexcept {
    lock_type lock(mutex_);
    if (state_ == state::connecting && error != ERROR_SUCCESS && recycled_socket_) {
        // The failure may be the reuse itself (Wine: WSAEISCONN): remember, retry on a fresh socket.
        engine_->sockets().report(reuse_use::connect, false);
        socket_.reset();
        if (const DWORD retry = issue_connect(lock); retry == ERROR_SUCCESS) {
            return;  // a new completion will come; the busy unit stays with it
        } else {
            error = retry;
        }
    }
    if (deadline_) {
        engine_->timers().cancel(*deadline_);
        deadline_.reset();
    }
    if (state_ != state::connecting || error != ERROR_SUCCESS) {
        engine_counters::add(engine_->counters().connect_failures);
        release_socket(lock, to_error_code(error), true);  // keeps an earlier reason (timeout, abort)
        release_busy(lock, true);
        return;
    }
    if (::setsockopt(socket_.get(), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) == SOCKET_ERROR) {
        engine_counters::add(engine_->counters().connect_failures);
        release_socket(lock, last_socket_error(), true);
        release_busy(lock, true);
        return;
    }
    if (recycled_socket_) {
        engine_->sockets().report(reuse_use::connect, true);
        engine_counters::add(engine_->counters().sockets_reused);
    }
    local_ = local_endpoint_of(socket_.get());
    state_ = state::open;
    opened_ = true;
    opening_ = true;
    engine_counters::add(engine_->counters().connections_connected);
    lock.unlock();

    touch();
    connection handle(shared_from_this());
    handler_->on_open(handle);
    finish_opening();  // bytes queued while connecting or during on_open leave now
    begin_receiving();  // the connect operation's busy unit passes to the first receive
}

// ---- receive -----------------------------------------------------------------------------------

void connection_impl::begin_receiving() noexcept {
    lock_type lock(mutex_);
    const bool readable = state_ == state::open || state_ == state::closing || state_ == state::shutdown_sent;
    if (readable && !receive_active_ && !paused_ && !peer_fin_) {
        receive_active_ = true;
        DWORD error = 0;
        DWORD bytes = 0;
        if (!issue_receive(lock, error, bytes)) {
            return;  // pending: the busy unit now belongs to the outstanding receive
        }
        lock.unlock();
        receive_loop(error, bytes);
        return;
    }
    release_busy(lock, true);
}

bool connection_impl::issue_receive(lock_type& /*lock*/, DWORD& error, DWORD& bytes) noexcept {
    // Without a pooled buffer, zero-byte mode waits in a zero-byte receive (it completes when
    // data or the FIN arrives; only then is a buffer taken), and adaptive mode receives into the
    // small buffer inside the connection: a lone small message (a request, a hello, the FIN)
    // then costs one call and no pooled buffer. Adaptive takes a pooled buffer once data flows.
    const receive_mode mode = engine_->options().receive;
    receive_is_probe_ = mode == receive_mode::zero_byte && !receive_buffer_;
    receive_is_small_ = mode == receive_mode::adaptive && !receive_buffer_;
    park_requested_ = false;  // a park request concerned the receive before this one
    if (!receive_is_probe_ && !receive_is_small_ && !receive_buffer_) {
        try {
            receive_bulk_ = false;
            receive_buffer_ = engine_->receive_buffers().take();
        } catch (const std::bad_alloc&) {
            error = ERROR_NOT_ENOUGH_MEMORY;
            bytes = 0;
            return true;
        }
    }
    receive_op_.reset_overlapped();
    WSABUF buffer{receive_is_probe_ ? 0 : gsl::narrow_cast<ULONG>(receive_capacity()),
                  reinterpret_cast<char*>(receive_buffer_.get())};
    if (receive_is_small_) {
        buffer = WSABUF{static_cast<ULONG>(small_buffer_.size()), reinterpret_cast<char*>(small_buffer_.data())};
    }
    DWORD flags = 0;
    DWORD received = 0;
    engine_counters::add(engine_->counters().receive_calls);
    if (::WSARecv(socket_.get(), &buffer, 1, &received, &flags, &receive_op_, nullptr) == 0) {
        if (!skips_port_) {
            return false;  // a packet is queued for this success too: handle it there, not twice
        }
        engine_counters::add(engine_->counters().completions_inline);
        error = ERROR_SUCCESS;
        bytes = received;
        return true;
    }
    const int failure = ::WSAGetLastError();
    if (failure == WSA_IO_PENDING) {
        return false;
    }
    error = static_cast<DWORD>(failure);  // immediate failure: no packet is queued
    bytes = 0;
    return true;
}

void connection_impl::on_receive(operation& op, DWORD error, DWORD bytes) noexcept {
    static_cast<receive_operation&>(op).owner->receive_loop(error, bytes);
}

// Runs on a worker holding the receive's busy unit. Loops over synchronous completions, at most
// max_inline_completions in a row before yielding through the port so other connections run.
void connection_impl::receive_loop(DWORD error, DWORD bytes) noexcept {
    for (unsigned inline_runs = 0;; ++inline_runs) {
        if (error == ERROR_SUCCESS && receive_is_probe_) {
            // The zero-byte receive says the socket is readable: read for real (data or FIN).
            lock_type lock(mutex_);
            const bool readable = state_ == state::open || state_ == state::closing || state_ == state::shutdown_sent;
            if (!readable) {
                receive_active_ = false;
                release_busy(lock, true);
                return;
            }
            try {
                receive_bulk_ = false;
                receive_buffer_ = engine_->receive_buffers().take();
            } catch (const std::bad_alloc&) {
                receive_active_ = false;
                release_socket(lock, std::make_error_code(std::errc::not_enough_memory), true);
                release_busy(lock, true);
                return;
            }
            if (!issue_receive(lock, error, bytes)) {
                return;
            }
            continue;
        }
        if (error == ERROR_OPERATION_ABORTED && receive_buffer_) {
            // Cancelled by park_receive_if_quiet (not by a close: that leaves the state closed)?
            // Then the connection is quiet: give the buffer back and wait in a zero-byte receive.
            // Had data arrived first, the receive would have completed with it instead, and the
            // cancel would have found nothing: no byte is lost either way.
            lock_type lock(mutex_);
            const bool readable = state_ == state::open || state_ == state::closing || state_ == state::shutdown_sent;
            if (park_requested_ && readable) {
                engine_counters::add(engine_->counters().receives_parked);
                give_receive_buffer();
                if (paused_) {
                    receive_active_ = false;
                    release_busy(lock, true);
                    return;
                }
                if (!issue_receive(lock, error, bytes)) {
                    return;  // the zero-byte receive is pending
                }
                continue;
            }
        }
        if (error != ERROR_SUCCESS || bytes == 0) {
            lock_type lock(mutex_);
            receive_active_ = false;
            if (error != ERROR_SUCCESS) {
                release_socket(lock, to_error_code(error), true);
            } else {
                peer_fin_ = true;
                closed_passively_ = !fin_sent_;
                if (state_ == state::shutdown_sent) {
                    release_socket(lock, {}, false);  // both FINs exchanged: a clean close
                } else {
                    enter_closing(lock, make_error_code(error::end_of_stream));
                }
            }
            release_busy(lock, true);
            return;
        }

        engine_counters::add(engine_->counters().bytes_received, bytes);
        touch();
        const auto arrived = now_ticks();
        const auto previous = last_received_.exchange(arrived, std::memory_order_relaxed);
        // A burst soon after the previous one: data flows, so adaptive mode keeps the buffer.
        const bool flowing =
            received_before_ && timer_queue::clock::duration(arrived - previous) < engine_->options().receive_park_after;
        received_before_ = true;
        {
            connection handle(shared_from_this());
            const std::byte* data = receive_is_small_ ? small_buffer_.data() : receive_buffer_.get();
            handler_->on_data(handle, gsl::span<const std::byte>(data, bytes));
        }
        const receive_mode mode = engine_->options().receive;
        const std::size_t capacity = receive_capacity();
        if (receive_buffer_ && !receive_is_small_) {
            if (!receive_bulk_ && bytes == capacity) {
                // The normal buffer was filled: more is waiting, a bulk transfer. Receive into a
                // bulk buffer from now on (without memory for one, keep the normal buffer).
                try {
                    buffer_pool::buffer bulk = engine_->bulk_receive_buffers().take();
                    give_receive_buffer();
                    receive_buffer_ = std::move(bulk);
                    receive_bulk_ = true;
                } catch (const std::bad_alloc&) {
                    // keep the normal buffer
                }
            } else if (receive_bulk_ && bytes <= receive_buffer_size_) {
                give_receive_buffer();  // small again: the modes below take a normal one if needed
            }
        }
        if (mode == receive_mode::zero_byte && bytes < capacity) {
            // Drained what was there: hand the buffer back and wait in a zero-byte receive.
            give_receive_buffer();
        } else if (mode == receive_mode::adaptive) {
            if (bytes < capacity && !flowing) {
                // A lone burst (a hello, a request after a pause): a connection that said one
                // thing and went quiet holds no pooled buffer; the small one waits for the next.
                give_receive_buffer();
            } else if (!receive_buffer_) {
                // Data flows (or filled the small buffer): receive into a pooled buffer, one call
                // per burst, until the sweep parks it. Without memory, stay small.
                try {
                    receive_bulk_ = false;
                    receive_buffer_ = engine_->receive_buffers().take();
                } catch (const std::bad_alloc&) {
                    receive_buffer_.reset();
                }
            }
        }

        lock_type lock(mutex_);
        const bool readable = state_ == state::open || state_ == state::closing || state_ == state::shutdown_sent;
        if (!readable || paused_) {
            receive_active_ = false;
            release_busy(lock, true);
            return;
        }
        if (!issue_receive(lock, error, bytes)) {
            return;
        }
        lock.unlock();
        if (inline_runs + 1 >= engine_->options().max_inline_completions && engine_->post(receive_op_, error, bytes)) {
            return;  // continues on a worker after whatever else is queued
        }
    }
}

void connection_impl::pause_receiving() noexcept {
    lock_type lock(mutex_);
    paused_ = true;
}

void connection_impl::resume_receiving() noexcept {
    lock_type lock(mutex_);
    if (!paused_) {
        return;
    }
    paused_ = false;
    if (opened_ && !receive_active_ && state_ != state::closed) {
        post_control(lock, resume_op_);  // the receive starts on a worker, never inside this call
    }
}

void connection_impl::on_resume(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    auto& control = static_cast<control_operation&>(op);
    {
        lock_type lock(control.owner->mutex_);
        control.queued = false;
    }
    control.owner->begin_receiving();  // the posted packet's busy unit passes on
}

// ---- send --------------------------------------------------------------------------------------

std::error_code connection_impl::send(gsl::span<const std::byte> data) noexcept {
    lock_type lock(mutex_);
    if (state_ != state::open && state_ != state::connecting) {
        return make_error_code(error::not_connected);
    }
    if (data.empty()) {
        return {};
    }
    if (data.size() > max_single_send) {
        return std::make_error_code(std::errc::message_size);  // a WSABUF cannot describe it
    }
    const std::size_t queued = queue_.size();
    const std::size_t cap = engine_->options().send_queue_cap;
    if (queued > 0 && data.size() > cap - std::min(queued, cap)) {
        return refuse_send(false);
    }
    // An empty queue always takes one buffer, as for the per-connection cap: a connection whose
    // peer reads can always make progress, however much others have queued.
    const std::size_t share = engine_->options().send_queue_guaranteed;
    const bool guaranteed = queued == 0 || (data.size() <= share && queued <= share - data.size());
    if (!engine_->reserve_send_bytes(data.size(), guaranteed)) {
        return refuse_send(true);
    }
    try {
        queue_.append(data);
    } catch (const std::bad_alloc&) {
        engine_->release_send_bytes(data.size());
        return std::make_error_code(std::errc::not_enough_memory);
    }
    if (state_ == state::open && !send_active_ && !opening_) {
        if (pump_send(lock)) {
            post_control(lock, drained_op_);  // never call back inside send()
        }
    }
    settle(lock, false);
    return {};
}

// Called with mutex_ held, and only with bytes queued: on_drained follows from this connection's
// own queue falling to its low-water mark, whichever limit refused (an empty queue is never
// refused, so no refusal waits on other connections).
std::error_code connection_impl::refuse_send(bool engine_limit) noexcept {
    drain_wanted_ = true;
    engine_counters::add(engine_->counters().sends_refused);
    if (engine_limit) {
        engine_counters::add(engine_->counters().sends_refused_engine_limit);
    }
    return make_error_code(error::send_queue_full);
}

bool connection_impl::pump_send(lock_type& lock) noexcept {
    while (!queue_.empty() && (state_ == state::open || state_ == state::closing)) {
        std::array<gsl::span<const std::byte>, max_send_buffers> spans;
        const std::size_t count = queue_.gather(spans);
        for (std::size_t i = 0; i < count; ++i) {
            // A block never exceeds what one send() accepted, and spans are bounded by the queue
            // cap's order of magnitude; ULONG holds 4 GiB.
            send_op_.buffers[i].len = gsl::narrow<ULONG>(spans[i].size());
            send_op_.buffers[i].buf = reinterpret_cast<char*>(const_cast<std::byte*>(spans[i].data()));
        }
        send_op_.reset_overlapped();
        send_active_ = true;
        add_busy();
        DWORD sent = 0;
        engine_counters::add(engine_->counters().send_calls);
        const int result =
            ::WSASend(socket_.get(), send_op_.buffers.data(), gsl::narrow_cast<DWORD>(count), &sent, 0, &send_op_, nullptr);
        if (result == 0 && skips_port_) {
            engine_counters::add(engine_->counters().completions_inline);
            send_active_ = false;
            drop_busy();
            touch();
            queue_.consume(sent);
            engine_->release_send_bytes(sent);
            engine_counters::add(engine_->counters().bytes_sent, sent);
            continue;
        }
        if (result == 0 || ::WSAGetLastError() == WSA_IO_PENDING) {
            return false;  // the completion finishes this send
        }
        const std::error_code failure = last_socket_error();
        send_active_ = false;
        drop_busy();
        release_socket(lock, failure, true);
        return false;
    }
    if (state_ == state::closing && queue_.empty()) {
        send_fin(lock);
    }
    if (drain_wanted_ && queue_.size() <= engine_->options().send_queue_low_water && state_ != state::closed) {
        drain_wanted_ = false;
        return true;
    }
    return false;
}

void connection_impl::on_send(operation& op, DWORD error, DWORD bytes) noexcept {
    static_cast<send_operation&>(op).owner->handle_send(error, bytes);
}

void connection_impl::handle_send(DWORD error, DWORD bytes) noexcept {
    lock_type lock(mutex_);
    send_active_ = false;
    if (error != ERROR_SUCCESS || state_ == state::closed) {
        release_socket(lock, to_error_code(error), true);
        discard_queue();  // the kernel no longer reads these blocks
        release_busy(lock, true);
        return;
    }
    const std::size_t sent = std::min<std::size_t>(bytes, queue_.size());
    if (sent > 0) {
        touch();  // bytes leaving are activity too: a peer that only reads is not idle
    }
    queue_.consume(sent);
    engine_->release_send_bytes(sent);
    engine_counters::add(engine_->counters().bytes_sent, sent);
    bool drained = false;
    if (state_ == state::open || state_ == state::closing) {
        drained = pump_send(lock);
    }
    if (drained) {
        lock.unlock();
        notify_drained();  // this send's busy unit is still held: on_close cannot overtake it
        lock.lock();
    }
    release_busy(lock, true);
}

void connection_impl::on_drained_notice(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    auto& control = static_cast<control_operation&>(op);
    connection_impl& self = *control.owner;
    lock_type lock(self.mutex_);
    control.queued = false;
    if (self.state_ != state::closed) {
        lock.unlock();
        self.notify_drained();
        lock.lock();
    }
    self.release_busy(lock, true);
}

void connection_impl::notify_drained() noexcept {
    connection handle(shared_from_this());
    handler_->on_drained(handle);
}

// ---- close -------------------------------------------------------------------------------------

void connection_impl::close(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    enter_closing(lock, reason);
    settle(lock, false);
}

void connection_impl::abort(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    release_socket(lock, reason ? reason : make_error_code(error::aborted), true);
    settle(lock, false);
}

void connection_impl::enter_closing(lock_type& lock, std::error_code reason) noexcept {
    if (state_ == state::connecting) {
        release_socket(lock, reason ? reason : make_error_code(error::aborted), true);
        return;
    }
    if (state_ != state::open) {
        return;  // already closing or closed
    }
    if (reason) {
        set_reason(reason);
    }
    state_ = state::closing;
    if (!send_active_) {
        if (pump_send(lock)) {
            post_control(lock, drained_op_);
        }
    }
    if (state_ == state::closed) {
        return;  // flushed and both FINs exchanged already: no deadline needed
    }
    try {
        deadline_ = engine_->timers().schedule_after(engine_->options().close_timeout, [weak = weak_from_this()] {
            if (const auto self = weak.lock()) {
                self->abort(make_error_code(error::timed_out));
            }
        });
    } catch (const std::bad_alloc&) {
        release_socket(lock, reason, true);  // cannot bound the wait: close now
        return;
    }
    // The peer's FIN can only be seen by a receive: make sure one runs.
    paused_ = false;
    if (!receive_active_ && !peer_fin_) {
        post_control(lock, resume_op_);
    }
}

void connection_impl::send_fin(lock_type& lock) noexcept {
    if (peer_fin_ && !engine_->sockets().may_recycle(from_connect_)) {
        // The peer closed first and nothing is queued: closesocket's graceful close sends our FIN,
        // so shutdown() would only cost a call. (A socket that may be recycled keeps the explicit
        // FIN: DisconnectEx(TF_REUSE_SOCKET) is only issued on a socket whose FIN has left.)
        fin_sent_ = true;
        release_socket(lock, {}, false);
        return;
    }
    if (::shutdown(socket_.get(), SD_SEND) == SOCKET_ERROR) {
        release_socket(lock, last_socket_error(), true);
        return;
    }
    state_ = state::shutdown_sent;
    fin_sent_ = true;
    if (peer_fin_) {
        release_socket(lock, {}, false);
    }
}

void connection_impl::release_socket(lock_type& /*lock*/, std::error_code reason, bool abortive) noexcept {
    if (state_ == state::closed) {
        return;
    }
    set_reason(reason);
    state_ = state::closed;
    if (deadline_) {
        engine_->timers().cancel(*deadline_);
        deadline_.reset();
    }
    if (socket_ && !abortive && closed_passively_ && fin_sent_ && !send_active_ && !receive_active_) {
        // Both FINs exchanged, the peer's first (so no TIME_WAIT here), nothing outstanding: the
        // socket can serve another connection.
        engine_->sockets().recycle(std::move(socket_), remote_.is_v6(), skips_port_, from_connect_);
    }
    if (socket_) {
        if (abortive) {
            const linger reset_on_close{1, 0};  // RST instead of FIN: nothing queued is delivered
            ::setsockopt(socket_.get(), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&reset_on_close),
                         sizeof(reset_on_close));
        }
        // Cancel first: under Wine a send stuck on a peer that does not read completes only then.
        // Nothing outstanding (the usual clean close): skip the call.
        if (receive_active_ || send_active_ || !opened_) {
            ::CancelIoEx(as_handle(socket_.get()), nullptr);
        }
        socket_.reset();
    }
    if (!send_active_) {
        discard_queue();  // otherwise the outstanding WSASend still reads it: freed at its completion
    }
}

void connection_impl::discard_queue() noexcept {
    engine_->release_send_bytes(queue_.size());
    queue_.clear();
}

void connection_impl::set_reason(std::error_code reason) noexcept {
    if (!reason_set_) {
        reason_ = reason;
        reason_set_ = true;
    }
}

// ---- lifetime ----------------------------------------------------------------------------------

void connection_impl::post_control(lock_type& /*lock*/, control_operation& op) noexcept {
    if (op.queued) {
        return;
    }
    op.queued = true;
    add_busy();
    if (!engine_->post(op, ERROR_SUCCESS)) {
        op.queued = false;
        drop_busy();
    }
}

void connection_impl::release_busy(lock_type& lock, bool on_worker) noexcept {
    drop_busy();
    settle(lock, on_worker);
}

void connection_impl::settle(lock_type& lock, bool on_worker) noexcept {
    if (busy_ == 0 && state_ == state::closed && !finalized_) {
        if (on_worker) {
            finalized_ = true;
            lock.unlock();
            finalize();  // may destroy *this: nothing may follow
            return;
        }
        post_control(lock, finalize_op_);
    }
    lock.unlock();
}

void connection_impl::on_finalize_notice(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    auto& control = static_cast<control_operation&>(op);
    lock_type lock(control.owner->mutex_);
    control.queued = false;
    control.owner->release_busy(lock, true);
}

void connection_impl::finalize() noexcept {
    const std::shared_ptr<connection_impl> self = shared_from_this();
    {
        connection handle(self);
        handler_->on_close(handle, reason_);
    }
    handler_.reset();  // the handler may hold handles to this connection: drop them now
    give_receive_buffer();  // no receive is outstanding
    engine_counters::add(engine_->counters().connections_closed);
    engine_counters::sub(engine_->counters().connections_open);
    if (holds_slot_) {
        engine_->release_slot();
    }
    engine_->remove_connection(this);
}

void connection_impl::add_busy() noexcept {
    ++busy_;
    engine_counters::add(engine_->counters().operations_pending);
}

void connection_impl::drop_busy() noexcept {
    --busy_;
    engine_counters::sub(engine_->counters().operations_pending);
}

// ---- queries -----------------------------------------------------------------------------------

void connection_impl::touch() noexcept { last_activity_.store(now_ticks(), std::memory_order_relaxed); }

timer_queue::clock::duration connection_impl::idle_for(timer_queue::clock::time_point now) const noexcept {
    return now - timer_queue::clock::time_point(timer_queue::clock::duration(last_activity_.load(std::memory_order_relaxed)));
}

void connection_impl::give_receive_buffer() noexcept {
    if (receive_buffer_) {
        (receive_bulk_ ? engine_->bulk_receive_buffers() : engine_->receive_buffers()).give(std::move(receive_buffer_));
    }
    receive_bulk_ = false;
}

std::size_t connection_impl::receive_capacity() const noexcept {
    if (receive_is_small_) {
        return small_buffer_.size();
    }
    return receive_bulk_ ? engine_->bulk_receive_buffers().buffer_size() : receive_buffer_size_;
}

void connection_impl::park_receive_if_quiet(timer_queue::clock::time_point now) noexcept {
    const auto last = timer_queue::clock::time_point(
        timer_queue::clock::duration(last_received_.load(std::memory_order_relaxed)));
    if (now - last < engine_->options().receive_park_after) {
        return;
    }
    lock_type lock(mutex_);
    // receive_active_ with a pooled buffer: a receive into it is outstanding, or its completion is
    // queued or being handled. Under mutex_ no new receive can be issued, so the cancel below can
    // only hit this one; if it is no longer outstanding the cancel finds nothing, and the next
    // issue_receive clears the request.
    if (state_ != state::open || !receive_active_ || !receive_buffer_ || receive_is_probe_ || receive_is_small_ ||
        park_requested_ || !socket_) {
        return;
    }
    park_requested_ = true;
    ::CancelIoEx(as_handle(socket_.get()), &receive_op_);
}

std::size_t connection_impl::queued_bytes() const noexcept {
    lock_type lock(mutex_);
    return queue_.size();
}

bool connection_impl::is_open() const noexcept {
    lock_type lock(mutex_);
    return state_ == state::open;
}

endpoint connection_impl::local_endpoint() const noexcept {
    lock_type lock(mutex_);
    return local_;
}

endpoint connection_impl::remote_endpoint() const noexcept {
    lock_type lock(mutex_);
    return remote_;
}

}  // namespace wire::detail
