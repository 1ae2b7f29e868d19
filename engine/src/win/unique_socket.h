#pragma once
// Owns a SOCKET; INVALID_SOCKET is the empty state. Move-only.
#include "win/system_calls.h"
#include "win/winsock.h"

#include <utility>

namespace wire::detail {

class unique_socket {
public:
    unique_socket() noexcept = default;
    explicit unique_socket(SOCKET s) noexcept : socket_(s) {}
    unique_socket(unique_socket&& other) noexcept : socket_(other.release()) {}
    unique_socket& operator=(unique_socket&& other) noexcept {
        reset(other.release());
        return *this;
    }
    unique_socket(const unique_socket&) = delete;
    unique_socket& operator=(const unique_socket&) = delete;
    ~unique_socket() { reset(); }

    [[nodiscard]] SOCKET get() const noexcept { return socket_; }
    [[nodiscard]] bool valid() const noexcept { return socket_ != INVALID_SOCKET; }
    explicit operator bool() const noexcept { return valid(); }

    [[nodiscard]] SOCKET release() noexcept { return std::exchange(socket_, INVALID_SOCKET); }
    void reset(SOCKET s = INVALID_SOCKET) noexcept {
        if (socket_ != INVALID_SOCKET) {
            sys().closesocket(socket_);
        }
        socket_ = s;
    }

private:
    SOCKET socket_ = INVALID_SOCKET;
};

}  // namespace wire::detail
