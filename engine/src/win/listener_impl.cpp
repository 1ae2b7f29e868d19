#include "win/listener_impl.h"

#include <wire/connection.h>
#include <wire/error.h>

#include "win/connection_impl.h"
#include "win/connection_registry.h"
#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/socket_pool.h"
#include "win/system_calls.h"

namespace wire::detail {

namespace {

// Running out: the first retry of a failed accept waits this long, each further one twice as
// long, up to the cap; a success resets it. Bounds the retry rate at pending_accepts per cap.
constexpr std::chrono::milliseconds first_backoff{10};
constexpr std::chrono::milliseconds max_backoff{1000};
constexpr std::chrono::seconds report_interval{1};

// A back-off timer's packet: no outcome to handle, only an accept to issue again.
constexpr DWORD retry_packet = ERROR_RETRY;

// Failures that belong to one would-be connection (its client reset or gave up before the accept
// completed): routine, re-issued at once. Anything else means the system is short of something.
bool is_routine_accept_failure(DWORD error) noexcept {
    switch (error) {
    case WSAECONNRESET:
    case ERROR_NETNAME_DELETED:
    case WSAECONNABORTED:
    case ERROR_CONNECTION_ABORTED:
    case ERROR_OPERATION_ABORTED:
        return true;
    default:
        return false;
    }
}

void cancel_by_name(SOCKET socket, operation& op) noexcept {
    if (socket != INVALID_SOCKET) {
        sys().cancel_io_ex(reinterpret_cast<HANDLE>(socket), &op);
    }
}

}  // namespace

listener_impl::listener_impl(const connection_context& context, handler_factory factory, listen_options options)
    : context_(context), factory_(std::move(factory)), options_(options) {}

listener_impl::~listener_impl() = default;

std::error_code listener_impl::open(const endpoint& local) {
    ipv6_ = local.is_v6();
    std::error_code ec;
    socket_ = make_tcp_socket(ipv6_, ec);
    if (ec) {
        return ec;
    }
    if (ipv6_) {
        const DWORD v6_only = options_.dual_stack ? 0 : 1;
        if (sys().setsockopt(socket_.get(), IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&v6_only),
                         sizeof(v6_only)) == SOCKET_ERROR) {
            return last_socket_error();
        }
    }
    // Before bind, as the option requires; refused by the platform: carry on (see the helper).
    (void)set_exclusive_address_use(socket_.get());
    if (sys().bind(socket_.get(), as_sockaddr(local), local.size()) == SOCKET_ERROR) {
        return last_socket_error();
    }
    if (sys().listen(socket_.get(), options_.backlog > 0 ? options_.backlog : SOMAXCONN) == SOCKET_ERROR) {
        return last_socket_error();
    }
    local_ = local_endpoint_of(socket_.get());
    set_no_delay(socket_.get());  // for accepted sockets to inherit, where the platform does
    if (ec = context_.port.associate(socket_.get(), completion_port::socket_kind::stream, skips_port_); ec) {
        return ec;
    }
    const unsigned count = options_.pending_accepts == 0 ? 1 : options_.pending_accepts;
    ops_.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
        ops_.push_back(std::make_unique<accept_operation>(*this));
    }
    return {};
}

void listener_impl::start() noexcept {
    for (const auto& op : ops_) {
        lock_type lock(mutex_);
        if (!teardown_.begin_operation()) {
            return;  // closed meanwhile
        }
        lock.unlock();
        DWORD error = 0;
        if (issue_accept(*op, error)) {
            context_.port.post(*op, error);  // finish on a worker, not inside listen()
        }
        lock.lock();
        cancel_if_closed(lock, *op);
        finish_issue(lock);
    }
}

bool listener_impl::begin_issue(lock_type& /*lock*/) noexcept { return teardown_.begin_issue(); }

void listener_impl::finish_issue(lock_type& lock) noexcept {
    unique_socket listening;
    if (teardown_.end_issue()) {
        listening = std::move(socket_);  // no call uses it any more, and none can start
    }
    finish_operation(lock, std::move(listening));
}

bool listener_impl::issue_accept(accept_operation& op, DWORD& error) noexcept {
    for (;;) {
        op.recycled = false;
        if (auto pooled = context_.sockets.take(ipv6_, reuse_use::accept)) {
            op.socket = std::move(pooled->socket);
            op.skips_port = pooled->skips_port;
            op.recycled = true;
        } else {
            std::error_code ec;
            op.socket = make_tcp_socket(ipv6_, ec);
            if (ec) {
                // Out of sockets or memory: finishes at once, and accept_loop backs off.
                error = ec.category() == std::system_category() ? static_cast<DWORD>(ec.value())
                                                               : static_cast<DWORD>(WSAENOBUFS);
                return true;
            }
        }
        op.socket_value.store(op.socket.get());
        op.reset_overlapped();
        DWORD received = 0;
        if (context_.extensions.accept_ex(socket_.get(), op.socket.get(), op.addresses.data(), 0, address_length,
                                          address_length, &received, &op) != FALSE) {
            if (!skips_port_) {
                return false;
            }
            engine_counters::add(context_.counters->completions_inline);
            error = ERROR_SUCCESS;
            return true;
        }
        const int failure = ::WSAGetLastError();
        if (failure == ERROR_IO_PENDING) {
            return false;
        }
        if (op.recycled && failure != WSAECONNRESET) {
            context_.sockets.report(reuse_use::accept, false);  // reuse is what failed: fresh socket
            op.socket_value.store(INVALID_SOCKET);
            op.socket.reset();
            continue;
        }
        error = static_cast<DWORD>(failure);
        return true;
    }
}

void listener_impl::cancel_if_closed(lock_type& lock, accept_operation& op) noexcept {
    if (!teardown_.closed()) {
        return;
    }
    // close() ran while the accept was being issued: cancel it by name, in case close() came
    // first. Our issuing unit keeps the listening socket open; a stale accept socket value finds
    // nothing. The handles are read from the fixed listening socket and the atomic.
    lock.unlock();
    cancel_by_name(socket_.get(), op);
    cancel_by_name(op.socket_value.load(), op);
    lock.lock();
}

void listener_impl::back_off(accept_operation& op, DWORD error) noexcept {
    long long delay = backoff_ms_.load(std::memory_order_relaxed);
    delay = delay == 0 ? first_backoff.count() : std::min(delay * 2, static_cast<long long>(max_backoff.count()));
    backoff_ms_.store(delay, std::memory_order_relaxed);

    std::uint64_t failures = 0;
    {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        ++unreported_failures_;
        if (now - last_report_ >= report_interval) {
            failures = std::exchange(unreported_failures_, 0);
            last_report_ = now;
        }
    }
    if (failures > 0 && context_.options.on_accept_failure) {
        try {
            context_.options.on_accept_failure(local_, to_error_code(error), failures);
        } catch (...) {
            // An observer must not throw; if it does, the back-off still happens.
        }
    }
    // The accept's unit stays held until the retry packet has been handled.
    try {
        context_.timers.schedule_after(std::chrono::milliseconds(delay), [weak = weak_from_this(), &op] {
            if (const auto self = weak.lock()) {
                self->context_.port.post(op, retry_packet);
            }
        });
    } catch (const std::bad_alloc&) {
        context_.port.post(op, retry_packet);  // no memory for a timer either: go round the port
    }
}

void listener_impl::on_accept(operation& op, DWORD error, DWORD /*bytes*/) noexcept {
    auto& accept = static_cast<accept_operation&>(op);
    accept.owner->accept_loop(accept, error);
}

bool listener_impl::take_accepted(accept_operation& op, accepted_socket& out) noexcept {
    const SOCKET listening = socket_.get();
    if (sys().setsockopt(op.socket.get(), SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, reinterpret_cast<const char*>(&listening),
                     sizeof(listening)) != 0) {
        return false;
    }
    sockaddr* local_address = nullptr;
    sockaddr* remote_address = nullptr;
    int local_length = 0;
    int remote_length = 0;
    context_.extensions.get_accept_ex_sockaddrs(op.addresses.data(), 0, address_length, address_length, &local_address,
                                                &local_length, &remote_address, &remote_length);
    out.local = to_endpoint(local_address, local_length);
    out.remote = to_endpoint(remote_address, remote_length);
    out.skips_port = op.skips_port;
    op.socket_value.store(INVALID_SOCKET);
    out.socket = std::move(op.socket);
    if (op.recycled) {
        context_.sockets.report(reuse_use::accept, true);
        engine_counters::add(context_.counters->sockets_reused);
    }
    return true;
}

// Runs on a worker holding the accept's unit.
void listener_impl::accept_loop(accept_operation& op, DWORD error) noexcept {
    const std::shared_ptr<listener_impl> self = shared_from_this();  // finish_operation may drop the registry's
    for (unsigned runs = 1;; ++runs) {
        lock_type lock(mutex_);
        if (!begin_issue(lock)) {
            finish_operation(lock);  // closed: the accept's unit; the teardown closes op.socket
            return;
        }
        lock.unlock();

        accepted_socket accepted;
        const bool accepted_recycled = op.recycled;  // already on the port
        if (error == ERROR_SUCCESS && op.socket && take_accepted(op, accepted)) {
            backoff_ms_.store(0, std::memory_order_relaxed);
        } else if (error != retry_packet) {
            engine_counters::add(context_.counters->accept_failures);
            op.socket_value.store(INVALID_SOCKET);
            op.socket.reset();
            if (error != ERROR_SUCCESS && !is_routine_accept_failure(error)) {
                back_off(op, error);  // the accept's unit goes with the retry
                lock.lock();
                finish_issue(lock);
                return;
            }
        }
        DWORD next_error = 0;
        const bool finished_at_once = issue_accept(op, next_error);
        if (!finished_at_once) {
            lock.lock();
            cancel_if_closed(lock, op);
            lock.unlock();
        }
        lock.lock();
        finish_issue(lock);  // the accept's unit is with the pending AcceptEx, or still ours
        // After the issuing unit is given back: a new connection's first callbacks may run inline
        // here, and close() must not wait for them to close the listening socket. `self` keeps
        // the listener alive; the engine cannot finish stopping while this worker runs.
        if (accepted.socket) {
            // An accept that finished at once waits in this frame until hand_over returns: the new
            // connection's first receives, run inside it, must yield to it as to queued work.
            const completion_port::holding_work holding(finished_at_once);
            hand_over(std::move(accepted), accepted_recycled);
        }
        if (!finished_at_once) {
            return;
        }
        error = next_error;
        if (runs >= context_.options.max_inline_completions && context_.port.should_yield()) {
            context_.port.post(op, error);  // yield to other work; this accept continues on a worker
            return;
        }
    }
}

// Every way an accepted connection can be turned away before it has a handler: counted, told to
// on_rejected with the peer's address (counted before the peer can see the reset), reset.
void listener_impl::reject(unique_socket& socket, const endpoint& remote, std::error_code reason) noexcept {
    engine_counters::add(context_.counters->connections_rejected);
    if (const auto& observer = context_.options.on_rejected) {
        try {
            observer(remote, reason);
        } catch (...) {
            // An observer must not throw; if it does, the rejection still happens.
        }
    }
    const linger reset_on_close{1, 0};
    sys().setsockopt(socket.get(), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&reset_on_close),
                 sizeof(reset_on_close));
    socket.reset();
}

void listener_impl::hand_over(accepted_socket accepted, bool associated) noexcept {
    if (!context_.registry.take_slot()) {
        reject(accepted.socket, accepted.remote, make_error_code(error::too_many_connections));
        return;  // the accept is already re-posted
    }
    // The socket joins the port (a recycled one is on it already) and gets TCP_NODELAY before a
    // connection exists for it: a socket that cannot is refused before any handler is made, and
    // the connection, once registered, opens without a system call in between.
    if (!associated) {
        if (const std::error_code ec = context_.port.associate(accepted.socket.get(), completion_port::socket_kind::stream, accepted.skips_port); ec) {
            context_.registry.release_slot();
            reject(accepted.socket, accepted.remote, ec);
            return;
        }
    }
    inheritance no_delay = no_delay_inherited_.load(std::memory_order_relaxed);
    if (no_delay == inheritance::unknown) {
        no_delay = has_no_delay(accepted.socket.get()) ? inheritance::inherited : inheritance::not_inherited;
        no_delay_inherited_.store(no_delay, std::memory_order_relaxed);
    }
    if (no_delay == inheritance::not_inherited) {
        set_no_delay(accepted.socket.get());
    }
    std::shared_ptr<connection_impl> c;
    std::error_code no_connection = make_error_code(error::aborted);  // the factory gave no handler
    try {
        std::unique_ptr<connection_handler> handler = factory_ ? factory_() : nullptr;
        if (handler) {
            c = std::make_shared<connection_impl>(context_, std::move(handler), reuse_use::accept);
        }
    } catch (...) {
        // A throwing factory or no memory: refuse this one connection, keep listening.
        c.reset();
        no_connection = std::make_error_code(std::errc::not_enough_memory);
    }
    if (!c) {
        context_.registry.release_slot();
        reject(accepted.socket, accepted.remote, no_connection);
        return;
    }
    c->adopt_slot();
    // Counted open before it is published: its finalize (which counts it out) may run at once.
    engine_counters::add(context_.counters->connections_open);
    std::error_code refused;
    try {
        if (!context_.registry.add(c)) {
            refused = make_error_code(error::engine_stopped);  // stopping: c goes without callbacks
        }
    } catch (const std::bad_alloc&) {
        refused = std::make_error_code(std::errc::not_enough_memory);
    }
    if (refused) {
        engine_counters::sub(context_.counters->connections_open);
        context_.registry.release_slot();  // c never finalizes: its slot comes back here
        reject(accepted.socket, accepted.remote, refused);
        return;
    }
    engine_counters::add(context_.counters->connections_accepted);
    c->start_accepted(std::move(accepted));
}

void listener_impl::close() noexcept {
    lock_type lock(mutex_);
    // Counts the cancels as a call: keeps the sockets open across them.
    if (!socket_ || !teardown_.begin_close()) {
        return;  // closed already, or never opened
    }
    lock.unlock();
    // Windows files a pending AcceptEx under the listening socket, Wine under the accepting one:
    // cancel it under both, by name.
    for (const auto& op : ops_) {
        cancel_by_name(socket_.get(), *op);
        cancel_by_name(op->socket_value.load(), *op);
    }
    lock.lock();
    finish_issue(lock);  // closes the listening socket unless a call is still using it
}

void listener_impl::finish_operation(lock_type& lock, unique_socket closing) noexcept {
    const bool done = teardown_.end_unit();
    lock.unlock();
    closing.reset();  // outside the lock, and before the finalize packet: the engine may go after it
    if (done) {
        context_.port.post(finalize_op_, ERROR_SUCCESS);  // on a worker (win/teardown.h, rule 4)
    }
}

// Nothing is outstanding and nothing can start: the sockets may close now.
void listener_impl::on_finalize(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    listener_impl& self = *static_cast<owned_operation<listener_impl>&>(op).owner;
    self.finalize();
}

void listener_impl::finalize() noexcept {
    for (const auto& op : ops_) {
        op->socket_value.store(INVALID_SOCKET);
        op->socket.reset();
    }
    socket_.reset();
    context_.registry.remove(this);  // last use of the engine
}

}  // namespace wire::detail
