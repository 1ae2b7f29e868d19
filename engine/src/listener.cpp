// The public listener handle: closing it (or dropping it) stops accepting.
#include <wire/listener.h>

#include "win/listener_impl.h"

namespace wire {

listener::listener(std::shared_ptr<detail::listener_impl> impl) noexcept : impl_(std::move(impl)) {}

listener& listener::operator=(listener&& other) noexcept {
    if (this != &other) {
        close();
        impl_ = std::move(other.impl_);
    }
    return *this;
}

listener::~listener() { close(); }

void listener::close() noexcept {
    if (impl_) {
        impl_->close();
    }
}

endpoint listener::local_endpoint() const noexcept { return impl_ ? impl_->local_endpoint() : endpoint{}; }

}  // namespace wire
