// A datagram socket's set-up, lifetime and close; the data paths are in datagram_io.cpp.
#include "win/datagram_impl.h"

#include <wire/error.h>

#include "win/datagram_registry.h"
#include "win/error_mapping.h"
#include "win/socket_address.h"
#include "win/system_calls.h"
#include "win/udp_constants.h"

namespace wire::detail {

namespace {

void delete_array(std::byte* block, std::size_t /*size*/) noexcept { delete[] block; }

}  // namespace

datagram_impl::datagram_impl(const connection_context& context, datagram_registry& registry,
                             std::unique_ptr<datagram_handler> handler, datagram_options options)
    : context_(context),
      registry_(registry),
      engine_counters_(context.counters),
      handler_(std::move(handler)),
      options_(options) {}

datagram_impl::~datagram_impl() {
    if (!teardown_.finalized()) {
        release_buffers();  // never registered (open_datagram failed): the engine is still there
    }
}

void datagram_impl::release_buffers() noexcept {
    for (const auto& op : receives_) {
        if (op->buffer && buffers_ != nullptr) {
            buffers_->give(std::move(op->buffer));
        }
        op->buffer.reset();
    }
}

std::error_code datagram_impl::open(const endpoint& local) {
    ipv6_ = local.is_v6();
    socket_.reset(sys().wsa_socket(ipv6_ ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0,
                                   WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT));
    if (!socket_) {
        return last_socket_error();
    }
    if (ipv6_) {
        const DWORD v6_only = options_.dual_stack ? 0 : 1;
        if (sys().setsockopt(socket_.get(), IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&v6_only),
                             sizeof(v6_only)) == SOCKET_ERROR) {
            return last_socket_error();
        }
    }
    // Windows' UDP trap: with SIO_UDP_CONNRESET on (its default), an ICMP "port unreachable" for
    // any datagram this socket sent ends its next WSARecvFrom with WSAECONNRESET, so one client
    // that went away disturbs a server's receives. Off unless asked for. A platform that refuses
    // the control (Wine 8 keeps Linux's behaviour: no ICMP errors on an unconnected socket) is
    // tolerated: the receive path survives those errors anyway.
    BOOL report = options_.report_connection_reset ? TRUE : FALSE;
    DWORD returned = 0;
    connreset_off_ = !options_.report_connection_reset &&
                     sys().wsa_ioctl(socket_.get(), sio_udp_connreset, &report, sizeof(report), nullptr, 0, &returned,
                                     nullptr, nullptr) == 0;
    registry_.note_connection_reset_off(connreset_off_);
    // Exclusive use, as for listeners: no other socket may take this port's datagrams.
    (void)set_exclusive_address_use(socket_.get());
    if (sys().bind(socket_.get(), as_sockaddr(local), local.size()) == SOCKET_ERROR) {
        return last_socket_error();
    }
    local_ = local_endpoint_of(socket_.get());
    registry_.probe(socket_.get());
    bool skips_port = false;  // never for a datagram socket (completion_port.h)
    if (const std::error_code ec = context_.port.associate(socket_.get(), completion_port::socket_kind::datagram, skips_port);
        ec) {
        return ec;
    }
    socket_value_.store(socket_.get());
    if (options_.max_datagram_size <= context_.receive_buffers.buffer_size()) {
        buffers_ = &context_.receive_buffers;
    } else if (options_.max_datagram_size <= context_.bulk_receive_buffers.buffer_size()) {
        buffers_ = &context_.bulk_receive_buffers;
    }
    try {
        receives_.reserve(options_.pending_receives);
        spare_sends_.reserve(max_spare_sends);
        for (unsigned i = 0; i < options_.pending_receives; ++i) {
            auto op = std::make_unique<receive_operation>(*this);
            if (buffers_ != nullptr) {
                op->buffer = buffers_->take();
            } else {
                // Larger than the engine's pools (receive_buffer_size below 16 KiB): a buffer of its own.
                op->buffer = buffer_pool::buffer(new std::byte[options_.max_datagram_size],
                                                 buffer_pool::releaser(&delete_array, options_.max_datagram_size));
            }
            receives_.push_back(std::move(op));
        }
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    return {};
}

void datagram_impl::start() noexcept {
    for (const auto& op : receives_) {
        lock_type lock(mutex_);
        if (!teardown_.begin_operation()) {
            return;  // closed meanwhile
        }
        lock.unlock();
        DWORD error = 0;
        DWORD bytes = 0;
        if (issue_receive(*op, error, bytes)) {
            context_.port.post(*op, error, bytes);  // handled on a worker, not inside open_datagram
        }
        lock.lock();
        finish_issue(lock);
    }
}

bool datagram_impl::begin_issue(lock_type& /*lock*/) noexcept { return teardown_.begin_issue(); }

void datagram_impl::finish_issue(lock_type& lock) noexcept {
    unique_socket closing;
    if (teardown_.end_issue() && socket_) {
        socket_value_.store(INVALID_SOCKET);
        closing = std::move(socket_);  // no call uses it any more, and none can start
    }
    finish_operation(lock, std::move(closing));
}

void datagram_impl::finish_operation(lock_type& lock, unique_socket closing) noexcept {
    const bool done = teardown_.end_unit();
    lock.unlock();
    closing.reset();  // outside the lock, and before on_close
    if (done) {
        context_.port.post(finalize_op_, ERROR_SUCCESS);  // on a worker (win/teardown.h, rule 4)
    }
}

void datagram_impl::on_finalize(operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
    static_cast<owned_operation<datagram_impl>&>(op).owner->finalize();
}

void datagram_impl::close(std::error_code reason) noexcept {
    lock_type lock(mutex_);
    // Counts the cancels as a call: keeps the handle open across them.
    if (!socket_ || !teardown_.begin_close()) {
        return;  // closing already, or never opened
    }
    reason_ = reason;
    const SOCKET s = socket_.get();
    lock.unlock();
    // Cancels every receive and send of this socket; the handle is ours until finish_issue.
    sys().cancel_io_ex(reinterpret_cast<HANDLE>(s), nullptr);
    lock.lock();
    finish_issue(lock);  // closes the handle unless a call is still using it
}

// Runs once, on a worker, after the last unit ended after close(): nothing is outstanding and
// nothing can start, so the handler hears its last event and the engine lets go.
void datagram_impl::finalize() noexcept {
    const std::shared_ptr<datagram_impl> self = shared_from_this();  // the registry's may go below
    {
        datagram_socket handle(self);
        handler_->on_close(handle, reason_);
    }
    handler_.reset();
    spare_sends_.clear();
    release_buffers();
    registry_.remove(this);  // last use of the engine
}

bool datagram_impl::is_open() const noexcept {
    lock_type lock(mutex_);
    return !teardown_.closed() && socket_;
}

datagram_statistics datagram_impl::stats() const noexcept {
    const auto get = [](const counters::counter& c) { return c.load(std::memory_order_relaxed); };
    datagram_statistics s;
    s.datagrams_received = get(counters_.datagrams_received);
    s.bytes_received = get(counters_.bytes_received);
    s.datagrams_sent = get(counters_.datagrams_sent);
    s.bytes_sent = get(counters_.bytes_sent);
    s.datagrams_truncated = get(counters_.datagrams_truncated);
    s.receive_errors = get(counters_.receive_errors);
    s.sends_refused = get(counters_.sends_refused);
    s.send_failures = get(counters_.send_failures);
    s.receive_calls = get(counters_.receive_calls);
    s.send_calls = get(counters_.send_calls);
    s.completions_inline = get(counters_.completions_inline);
    lock_type lock(mutex_);
    s.bytes_in_flight = in_flight_bytes_;
    s.operations_pending = teardown_.units();
    return s;
}

}  // namespace wire::detail
