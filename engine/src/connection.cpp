// The public connection handle: forwards to the implementation, harmless when empty or closed.
#include <wire/connection.h>
#include <wire/connection_layer.h>
#include <wire/error.h>

#include "win/connection_impl.h"

#include <stdexcept>

namespace wire {

connection::connection(std::shared_ptr<detail::connection_impl> impl) noexcept : impl_(std::move(impl)) {}

std::error_code connection::send(gsl::span<const std::byte> data) const noexcept {
    if (!impl_) {
        return make_error_code(error::not_connected);
    }
    return impl_->layer() != nullptr ? impl_->send_through_layer(*this, data) : impl_->send(data);
}

void connection::close() const noexcept {
    if (!impl_) {
        return;
    }
    if (impl_->layer() != nullptr) {
        impl_->close_through_layer(*this);
    } else {
        impl_->close();
    }
}

void connection::abort() const noexcept { abort(make_error_code(error::aborted)); }

void connection::abort(std::error_code reason) const noexcept {
    if (impl_) {
        impl_->abort(reason);
    }
}

std::error_code connection::post(std::function<void(connection&)> work) const {
    if (!work) {
        throw std::invalid_argument("wire::connection::post: the work function is empty");
    }
    return impl_ ? impl_->post(std::move(work)) : make_error_code(error::not_connected);
}

timer connection::after(timer::duration delay, std::function<void(connection&)> callback) const {
    if (!callback) {
        throw std::invalid_argument("wire::connection::after: the callback is empty");
    }
    if (!impl_) {
        return {};
    }
    const auto id = impl_->schedule_timer(delay, {}, std::move(callback));
    return id == 0 ? timer{} : timer(impl_->timer_source(), id, impl_);
}

timer connection::every(timer::duration period, std::function<void(connection&)> callback) const {
    if (!callback) {
        throw std::invalid_argument("wire::connection::every: the callback is empty");
    }
    if (period <= timer::duration::zero()) {
        throw std::invalid_argument("wire::connection::every: the period must be positive");
    }
    if (!impl_) {
        return {};
    }
    const auto id = impl_->schedule_timer(period, period, std::move(callback));
    return id == 0 ? timer{} : timer(impl_->timer_source(), id, impl_);
}

void connection::pause_receiving() const noexcept {
    if (impl_) {
        impl_->pause_receiving();
    }
}

void connection::resume_receiving() const noexcept {
    if (impl_) {
        impl_->resume_receiving();
    }
}

std::size_t connection::queued_bytes() const noexcept { return impl_ ? impl_->queued_bytes() : 0; }
bool connection::is_open() const noexcept { return impl_ && impl_->is_open(); }
endpoint connection::local_endpoint() const noexcept { return impl_ ? impl_->local_endpoint() : endpoint{}; }
endpoint connection::remote_endpoint() const noexcept { return impl_ ? impl_->remote_endpoint() : endpoint{}; }
std::uint64_t connection::id() const noexcept { return impl_ ? impl_->id() : 0; }

}  // namespace wire

namespace wire {

connection_layer* connection_layer::of(const connection& conn) noexcept {
    return conn.impl_ ? conn.impl_->layer() : nullptr;
}

std::error_code connection_layer::admit_unlayered(const connection& conn, std::size_t bytes) noexcept {
    return conn.impl_ ? conn.impl_->admit(bytes) : make_error_code(error::not_connected);
}

std::error_code connection_layer::send_unlayered(const connection& conn, gsl::span<const std::byte> data,
                                                 bool admitted) noexcept {
    return conn.impl_ ? conn.impl_->send(data, admitted) : make_error_code(error::not_connected);
}

void connection_layer::close_unlayered(const connection& conn) noexcept {
    if (conn.impl_) {
        conn.impl_->close();
    }
}

}  // namespace wire
