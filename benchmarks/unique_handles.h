#pragma once
// Move-only owners for the kernel objects the benchmark driver uses, with the invalid value built
// in: a SOCKET (INVALID_SOCKET) and a HANDLE (nullptr; INVALID_HANDLE_VALUE is folded into it).
#include "win32.h"

#include <utility>

namespace wire::bench {

class socket_handle {
public:
    socket_handle() noexcept = default;
    explicit socket_handle(SOCKET s) noexcept : socket_(s) {}
    socket_handle(socket_handle&& other) noexcept : socket_(std::exchange(other.socket_, INVALID_SOCKET)) {}
    socket_handle& operator=(socket_handle&& other) noexcept {
        reset(std::exchange(other.socket_, INVALID_SOCKET));
        return *this;
    }
    socket_handle(const socket_handle&) = delete;
    socket_handle& operator=(const socket_handle&) = delete;
    ~socket_handle() { reset(); }

    [[nodiscard]] SOCKET get() const noexcept { return socket_; }
    explicit operator bool() const noexcept { return socket_ != INVALID_SOCKET; }
    void reset(SOCKET s = INVALID_SOCKET) noexcept {
        if (socket_ != INVALID_SOCKET) {
            ::closesocket(socket_);
        }
        socket_ = s;
    }

private:
    SOCKET socket_ = INVALID_SOCKET;
};

class kernel_handle {
public:
    kernel_handle() noexcept = default;
    explicit kernel_handle(HANDLE h) noexcept : handle_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
    kernel_handle(kernel_handle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    kernel_handle& operator=(kernel_handle&& other) noexcept {
        reset(std::exchange(other.handle_, nullptr));
        return *this;
    }
    kernel_handle(const kernel_handle&) = delete;
    kernel_handle& operator=(const kernel_handle&) = delete;
    ~kernel_handle() { reset(); }

    [[nodiscard]] HANDLE get() const noexcept { return handle_; }
    explicit operator bool() const noexcept { return handle_ != nullptr; }
    void reset(HANDLE h = nullptr) noexcept {
        if (handle_ != nullptr) {
            ::CloseHandle(handle_);
        }
        handle_ = h == INVALID_HANDLE_VALUE ? nullptr : h;
    }

private:
    HANDLE handle_ = nullptr;
};

}  // namespace wire::bench
