#pragma once
// A listening socket with AcceptEx calls kept posted.
#include <wire/endpoint.h>

#include <memory>

namespace wire {

namespace detail {
class listener_impl;
}

// Owning handle: the listener stops accepting when the last copy is destroyed or close() is called.
class listener {
public:
    listener() = default;
    explicit listener(std::shared_ptr<detail::listener_impl> impl) noexcept;
    listener(listener&&) noexcept = default;
    listener& operator=(listener&&) noexcept;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener();

    // Stops accepting; connections already accepted are not affected. Idempotent.
    void close() noexcept;
    // The bound address, with the real port when 0 was asked for.
    [[nodiscard]] endpoint local_endpoint() const noexcept;
    explicit operator bool() const noexcept { return impl_ != nullptr; }

private:
    std::shared_ptr<detail::listener_impl> impl_;
};

}  // namespace wire
