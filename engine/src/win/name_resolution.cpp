#include "win/name_resolution.h"

#include "win/socket_address.h"
#include "win/system_calls.h"

#include <gsl/narrow>

#include <new>

namespace wire::detail {

namespace {

std::wstring widen(std::string_view utf8) {
    if (utf8.empty()) {
        return {};
    }
    const int length = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(),
                                             gsl::narrow<int>(utf8.size()), nullptr, 0);
    if (length <= 0) {
        return {};  // not UTF-8: resolves as an empty name, which fails with a clear error
    }
    std::wstring wide(static_cast<std::size_t>(length), L'\0');
    ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), gsl::narrow<int>(utf8.size()), wide.data(), length);
    return wide;
}

// MinGW declares LPLOOKUPSERVICE_COMPLETION_ROUTINE as void*, the Windows SDK as the function
// pointer it is: one cast serves both.
template <typename Routine>
LPLOOKUPSERVICE_COMPLETION_ROUTINE as_completion_routine(Routine routine) noexcept {
    return reinterpret_cast<LPLOOKUPSERVICE_COMPLETION_ROUTINE>(routine);
}

ADDRINFOEXW stream_hints() noexcept {
    ADDRINFOEXW hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    return hints;
}

}  // namespace

name_resolution::name_resolution(complete_fn on_complete, completion_port& port, std::string_view host,
                                 std::uint16_t port_number)
    : operation(on_complete), port_(port), host_(widen(host)), service_(std::to_wstring(port_number)) {}

name_resolution::~name_resolution() {
    if (result_ != nullptr) {
        sys().free_addr_info_ex(result_);
    }
}

DWORD name_resolution::start() noexcept {
    if (host_.empty()) {
        return WSAHOST_NOT_FOUND;  // empty or not valid UTF-8
    }
    reset_overlapped();
    const ADDRINFOEXW hints = stream_hints();
    HANDLE cancel_handle = nullptr;
    cancel_handle_.store(starting());
    const INT status = sys().get_addr_info_ex(host_.c_str(), service_.c_str(), NS_DNS, nullptr, &hints, &result_,
                                              nullptr, this, as_completion_routine(&completed), &cancel_handle);
    if (status == WSA_IO_PENDING) {
        // The routine may have run already (on a system thread, before the call returned): then it
        // left nullptr and the handle names a finished query, which must never be cancelled. A
        // cancel asked for meanwhile left cancel_wanted(): this thread cancels on its behalf.
        // Wine 8 gives no handle: cancel() then has nothing to do.
        HANDLE expected = starting();
        if (!cancel_handle_.compare_exchange_strong(expected, cancel_handle) && expected == cancel_wanted()) {
            if (cancel_handle_.compare_exchange_strong(expected, nullptr) && cancel_handle != nullptr) {
                sys().get_addr_info_ex_cancel(&cancel_handle);
            }
        }
        return ERROR_SUCCESS;
    }
    cancel_handle_.store(nullptr);  // no query is running
    if (status == WSAEINVAL) {
        // No asynchronous lookups here: a worker resolves it.
        synchronous_ = true;
        port_.post(*this, ERROR_SUCCESS);
        return ERROR_SUCCESS;
    }
    // Finished at once (the routine is not called): hand the outcome to a worker all the same,
    // so that the connection's handlers never run inside engine::connect.
    port_.post(*this, static_cast<DWORD>(status));
    return ERROR_SUCCESS;
}

void CALLBACK name_resolution::completed(DWORD error, DWORD /*bytes*/, LPWSAOVERLAPPED overlapped) noexcept {
    auto& self = static_cast<name_resolution&>(*static_cast<operation*>(overlapped));
    // A finished query's handle must not be cancelled (it may name another query by then).
    self.cancel_handle_.store(nullptr);
    self.port_.post(self, error);  // on a system thread: nothing else is done here
}

DWORD name_resolution::finish(DWORD error) noexcept {
    if (synchronous_) {
        return resolve_here();
    }
    if (error != ERROR_SUCCESS) {
        return error == WSA_E_CANCELLED ? static_cast<DWORD>(WSAECANCELLED) : error;
    }
    return collect(result_);
}

DWORD name_resolution::resolve_here() noexcept {
    ADDRINFOW hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    ADDRINFOW* list = nullptr;
    if (const INT status = sys().get_addr_info(host_.c_str(), service_.c_str(), &hints, &list); status != 0) {
        return static_cast<DWORD>(status);
    }
    DWORD error = ERROR_SUCCESS;
    try {
        for (const ADDRINFOW* a = list; a != nullptr; a = a->ai_next) {
            if (a->ai_family == AF_INET || a->ai_family == AF_INET6) {
                addresses_.push_back(to_endpoint(a->ai_addr, gsl::narrow_cast<int>(a->ai_addrlen)));
            }
        }
    } catch (const std::bad_alloc&) {
        error = WSA_NOT_ENOUGH_MEMORY;
    }
    sys().free_addr_info(list);
    if (error == ERROR_SUCCESS && addresses_.empty()) {
        error = WSAHOST_NOT_FOUND;
    }
    return error;
}

DWORD name_resolution::collect(const ADDRINFOEXW* list) noexcept {
    try {
        // The cast: MinGW declares ai_next with a differently spelt struct tag (a no-op elsewhere).
        for (const ADDRINFOEXW* a = list; a != nullptr; a = reinterpret_cast<const ADDRINFOEXW*>(a->ai_next)) {
            if (a->ai_family == AF_INET || a->ai_family == AF_INET6) {
                addresses_.push_back(to_endpoint(a->ai_addr, gsl::narrow_cast<int>(a->ai_addrlen)));
            }
        }
    } catch (const std::bad_alloc&) {
        return WSA_NOT_ENOUGH_MEMORY;
    }
    return addresses_.empty() ? static_cast<DWORD>(WSAHOST_NOT_FOUND) : ERROR_SUCCESS;
}

void name_resolution::cancel() noexcept {
    HANDLE handle = cancel_handle_.load();
    for (;;) {
        if (handle == nullptr || handle == cancel_wanted()) {
            return;  // finished, never started, or already cancelled
        }
        // While start() is in its call there is no handle yet: leave the cancel to it.
        HANDLE next = handle == starting() ? cancel_wanted() : nullptr;
        if (cancel_handle_.compare_exchange_weak(handle, next)) {
            break;
        }
    }
    if (handle != starting()) {
        sys().get_addr_info_ex_cancel(&handle);  // the packet still comes, with WSA_E_CANCELLED
    }
}

}  // namespace wire::detail
