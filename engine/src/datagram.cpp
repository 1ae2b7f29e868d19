// The public datagram socket handle, and engine::open_datagram (kept here, beside the handle, so
// that UDP adds no code to the TCP engine's files).
#include <wire/datagram.h>
#include <wire/engine.h>
#include <wire/error.h>

#include "core/options_validation.h"
#include "win/datagram_impl.h"
#include "win/datagram_registry.h"
#include "win/engine_core.h"

#include <stdexcept>

namespace wire {

datagram_socket::datagram_socket(std::shared_ptr<detail::datagram_impl> impl) noexcept : impl_(std::move(impl)) {}

std::error_code datagram_socket::send_to(const endpoint& to, gsl::span<const std::byte> data) const noexcept {
    return impl_ ? impl_->send_to(to, data) : make_error_code(error::not_connected);
}

void datagram_socket::close() const noexcept {
    if (impl_) {
        impl_->close({});
    }
}

bool datagram_socket::is_open() const noexcept { return impl_ && impl_->is_open(); }

endpoint datagram_socket::local_endpoint() const noexcept { return impl_ ? impl_->local_endpoint() : endpoint{}; }

datagram_statistics datagram_socket::stats() const noexcept { return impl_ ? impl_->stats() : datagram_statistics{}; }

datagram_socket engine::open_datagram(const endpoint& local, std::unique_ptr<datagram_handler> handler,
                                      datagram_options options) {
    if (!handler) {
        throw std::invalid_argument("wire::engine::open_datagram: the handler is empty");
    }
    detail::validate(options);
    auto impl = std::make_shared<detail::datagram_impl>(core_->context(), core_->datagrams(), std::move(handler), options);
    if (const std::error_code ec = impl->open(local); ec) {
        throw std::system_error(ec, "open a datagram socket on " + local.to_string());
    }
    if (!core_->datagrams().add(impl)) {
        throw std::system_error(make_error_code(error::engine_stopped), "open a datagram socket on " + local.to_string());
    }
    impl->start();
    return datagram_socket(std::move(impl));
}

}  // namespace wire
