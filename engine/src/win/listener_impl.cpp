#include "win/listener_impl.h"

#include <wire/connection.h>
#include <wire/error.h>

#include "win/connection_impl.h"
#include "win/engine_core.h"
#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/socket_pool.h"

namespace wire::detail {

namespace {

// When no accept socket can be created (out of sockets or memory), retry after this long instead
// of spinning.
constexpr std::chrono::milliseconds socket_shortage_retry{100};

}  // namespace

listener_impl::listener_impl(std::shared_ptr<engine_core> engine, handler_factory factory, listen_options options)
    : engine_(std::move(engine)), factory_(std::move(factory)), options_(options) {}

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
        if (::setsockopt(socket_.get(), IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&v6_only),
                         sizeof(v6_only)) == SOCKET_ERROR) {
            return last_socket_error();
        }
    }
    // Before bind, as the option requires; refused by the platform: carry on (see the helper).
    (void)set_exclusive_address_use(socket_.get());
    if (::bind(socket_.get(), as_sockaddr(local), local.size()) == SOCKET_ERROR) {
        return last_socket_error();
    }
    if (::listen(socket_.get(), options_.backlog > 0 ? options_.backlog : SOMAXCONN) == SOCKET_ERROR) {
        return last_socket_error();
    }
    local_ = local_endpoint_of(socket_.get());
    set_no_delay(socket_.get());  // for accepted sockets to inherit, where the platform does
    if (ec = engine_->associate(socket_.get(), skips_port_); ec) {
        return ec;
    }
    const unsigned count = options_.pending_accepts == 0 ? 1 : options_.pending_accepts;
    ops_.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
        ops_.push_back(std::make_unique<accept_operation>(*this));
    }
    return {};
}

void listener_impl::start() {
    for (const auto& op : ops_) {
        lock_type lock(mutex_);
        if (closed_) {
            return;
        }
        ++pending_;
        engine_counters::add(engine_->counters().operations_pending);
        DWORD error = 0;
        if (issue_accept(*op, error)) {
            engine_->post(*op, error);  // finish on a worker, not inside listen()
        }
    }
}

bool listener_impl::issue_accept(accept_operation& op, DWORD& error) noexcept {
    for (;;) {
        op.recycled = false;
        if (auto pooled = engine_->sockets().take(ipv6_, reuse_use::accept)) {
            op.socket = std::move(pooled->socket);
            op.skips_port = pooled->skips_port;
            op.recycled = true;
        } else {
            std::error_code ec;
            op.socket = make_tcp_socket(ipv6_, ec);
            if (ec) {
                retry_later(op);
                return false;
            }
        }
        op.reset_overlapped();
        DWORD received = 0;
        if (engine_->extensions().accept_ex(socket_.get(), op.socket.get(), op.addresses.data(), 0, address_length,
                                            address_length, &received, &op) != FALSE) {
            if (!skips_port_) {
                return false;
            }
            engine_counters::add(engine_->counters().completions_inline);
            error = ERROR_SUCCESS;
            return true;
        }
        const int failure = ::WSAGetLastError();
        if (failure == ERROR_IO_PENDING) {
            return false;
        }
        if (op.recycled && failure != WSAECONNRESET) {
            engine_->sockets().report(reuse_use::accept, false);  // reuse is what failed: fresh socket
            op.socket.reset();
            continue;
        }
        error = static_cast<DWORD>(failure);
        return true;
    }
}

void listener_impl::retry_later(accept_operation& op) noexcept {
    try {
        engine_->timers().schedule_after(socket_shortage_retry, [weak = weak_from_this(), &op] {
            if (const auto self = weak.lock()) {
                self->engine_->post(op, WSAENOBUFS);
            }
        });
    } catch (const std::bad_alloc&) {
        engine_->post(op, WSAENOBUFS);  // no memory for a timer either: go round the port
    }
}

void listener_impl::on_accept(operation& op, DWORD error, DWORD /*bytes*/) noexcept {
    auto& accept = static_cast<accept_operation&>(op);
    accept.owner->accept_loop(accept, error);
}

void listener_impl::accept_loop(accept_operation& op, DWORD error) noexcept {
    const std::shared_ptr<listener_impl> self = shared_from_this();  // finish_operation may drop the registry's
    for (unsigned runs = 1;; ++runs) {
        lock_type lock(mutex_);
        if (closed_) {
            op.socket.reset();
            finish_operation(lock);
            return;
        }
        unique_socket accepted;
        bool accepted_recycled = false;
        bool accepted_skips = false;
        endpoint local;
        endpoint remote;
        if (error == ERROR_SUCCESS && op.socket) {
            const SOCKET listening = socket_.get();
            if (::setsockopt(op.socket.get(), SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                             reinterpret_cast<const char*>(&listening), sizeof(listening)) == 0) {
                sockaddr* local_address = nullptr;
                sockaddr* remote_address = nullptr;
                int local_length = 0;
                int remote_length = 0;
                engine_->extensions().get_accept_ex_sockaddrs(op.addresses.data(), 0, address_length, address_length,
                                                              &local_address, &local_length, &remote_address,
                                                              &remote_length);
                local = to_endpoint(local_address, local_length);
                remote = to_endpoint(remote_address, remote_length);
                accepted = std::move(op.socket);
                accepted_recycled = op.recycled;
                accepted_skips = op.skips_port;
                if (op.recycled) {
                    engine_->sockets().report(reuse_use::accept, true);
                    engine_counters::add(engine_->counters().sockets_reused);
                }
            }
        }
        if (!accepted) {
            // A client that reset before its accept completed, or a socket shortage: routine.
            engine_counters::add(engine_->counters().accept_failures);
            op.socket.reset();
        }
        DWORD next_error = 0;
        const bool finished_at_once = issue_accept(op, next_error);
        lock.unlock();

        if (accepted) {
            hand_over(std::move(accepted), accepted_recycled, accepted_skips, local, remote);
        }
        if (!finished_at_once) {
            return;
        }
        error = next_error;
        if (runs >= engine_->options().max_inline_completions && engine_->post(op, error)) {
            return;  // yield to other work; this accept continues on a worker
        }
    }
}

void listener_impl::hand_over(unique_socket socket, bool recycled, bool skips_port, const endpoint& local,
                              const endpoint& remote) noexcept {
    // Every way an accepted connection can be turned away before it has a handler: counted, told
    // to on_rejected with the peer's address (counted before the peer can see the reset), reset.
    const auto reject = [this, &remote](unique_socket& s, std::error_code reason) {
        engine_counters::add(engine_->counters().connections_rejected);
        if (const auto& observer = engine_->options().on_rejected) {
            try {
                observer(remote, reason);
            } catch (...) {
                // An observer must not throw; if it does, the rejection still happens.
            }
        }
        const linger reset_on_close{1, 0};
        ::setsockopt(s.get(), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&reset_on_close),
                     sizeof(reset_on_close));
        s.reset();
    };
    if (!engine_->take_slot()) {
        reject(socket, make_error_code(error::too_many_connections));  // the accept is already re-posted
        return;
    }
    std::shared_ptr<connection_impl> c;
    std::error_code no_connection = make_error_code(error::aborted);  // the factory gave no handler
    try {
        std::unique_ptr<connection_handler> handler = factory_ ? factory_() : nullptr;
        if (handler) {
            c = std::make_shared<connection_impl>(engine_, std::move(handler));
        }
    } catch (...) {
        // A throwing factory or no memory: refuse this one connection, keep listening.
        c.reset();
        no_connection = std::make_error_code(std::errc::not_enough_memory);
    }
    if (!c) {
        engine_->release_slot();
        reject(socket, no_connection);
        return;
    }
    c->adopt_slot();
    try {
        if (!engine_->add_connection(c)) {
            engine_->release_slot();  // c never finalizes: its slot comes back here
            reject(socket, make_error_code(error::engine_stopped));
            return;  // stopping: c is released here, without callbacks
        }
    } catch (const std::bad_alloc&) {
        engine_->release_slot();
        reject(socket, std::make_error_code(std::errc::not_enough_memory));
        return;
    }
    engine_counters::add(engine_->counters().connections_accepted);
    inheritance no_delay = no_delay_inherited_.load(std::memory_order_relaxed);
    if (no_delay == inheritance::unknown) {
        no_delay = has_no_delay(socket.get()) ? inheritance::inherited : inheritance::not_inherited;
        no_delay_inherited_.store(no_delay, std::memory_order_relaxed);
    }
    c->start_accepted(std::move(socket), recycled, skips_port, no_delay == inheritance::inherited, local, remote);
}

void listener_impl::close() noexcept {
    lock_type lock(mutex_);
    if (closed_) {
        return;
    }
    closed_ = true;
    if (socket_) {
        ::CancelIoEx(reinterpret_cast<HANDLE>(socket_.get()), nullptr);
        // Wine files a pending AcceptEx under the accepting socket, not the listening one: cancel
        // there too, or the accept would wait for a client that never comes.
        for (const auto& op : ops_) {
            if (op->socket) {
                ::CancelIoEx(reinterpret_cast<HANDLE>(op->socket.get()), nullptr);
            }
        }
        socket_.reset();
    }
    ++pending_;  // balance finish_operation's decrement: removes the listener when nothing is pending
    engine_counters::add(engine_->counters().operations_pending);
    finish_operation(lock);
}

void listener_impl::finish_operation(lock_type& lock) noexcept {
    --pending_;
    engine_counters::sub(engine_->counters().operations_pending);
    const bool done = closed_ && pending_ == 0;
    lock.unlock();
    if (done) {
        engine_->remove_listener(this);
    }
}

}  // namespace wire::detail
