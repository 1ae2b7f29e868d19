#include <wire/endpoint.h>

#include "win/system_calls.h"
#include "win/winsock_session.h"
#include "win/winsock.h"

#include <cstring>
#include <string>

namespace wire {

namespace {

const sockaddr_in& as_v4(const std::byte* data) noexcept { return *reinterpret_cast<const sockaddr_in*>(data); }
const sockaddr_in6& as_v6(const std::byte* data) noexcept { return *reinterpret_cast<const sockaddr_in6*>(data); }

template <typename Address>
endpoint make_endpoint(const Address& address) noexcept {
    static_assert(sizeof(Address) <= endpoint::capacity);
    endpoint e;
    std::memcpy(e.data(), &address, sizeof(address));
    return e;
}

endpoint make_v4(const in_addr& address, std::uint16_t port) noexcept {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = ::htons(port);
    a.sin_addr = address;
    return make_endpoint(a);
}

endpoint make_v6(const in6_addr& address, std::uint16_t port) noexcept {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = ::htons(port);
    a.sin6_addr = address;
    return make_endpoint(a);
}

}  // namespace

std::optional<endpoint> endpoint::parse(std::string_view address, std::uint16_t port) {
    const std::string text(address);  // inet_pton wants a terminated string
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        return make_v4(v4, port);
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        return make_v6(v6, port);
    }
    return std::nullopt;
}

std::vector<endpoint> endpoint::resolve(std::string_view host, std::uint16_t port, std::error_code& error) {
    error.clear();
    if (const auto numeric = parse(host, port)) {
        return {*numeric};
    }
    const int length = host.empty() ? 0
                                    : ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, host.data(),
                                                            static_cast<int>(host.size()), nullptr, 0);
    if (length <= 0) {
        error = std::error_code(WSAHOST_NOT_FOUND, std::system_category());  // empty, or not UTF-8
        return {};
    }
    std::wstring name(static_cast<std::size_t>(length), L'\0');
    ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, host.data(), static_cast<int>(host.size()), name.data(), length);
    const std::wstring service = std::to_wstring(port);
    std::optional<detail::winsock_session> winsock;  // callable before any engine exists
    try {
        winsock.emplace();
    } catch (const std::system_error& e) {
        error = e.code();
        return {};
    }
    ADDRINFOW hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    ADDRINFOW* list = nullptr;
    if (const int status = detail::sys().get_addr_info(name.c_str(), service.c_str(), &hints, &list); status != 0) {
        error = std::error_code(status, std::system_category());
        return {};
    }
    std::vector<endpoint> found;
    for (const ADDRINFOW* a = list; a != nullptr; a = a->ai_next) {
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) && a->ai_addrlen <= capacity) {
            endpoint e;
            std::memcpy(e.data(), a->ai_addr, a->ai_addrlen);
            found.push_back(e);
        }
    }
    detail::sys().free_addr_info(list);
    if (found.empty()) {
        error = std::error_code(WSAHOST_NOT_FOUND, std::system_category());
    }
    return found;
}

endpoint endpoint::loopback_v4(std::uint16_t port) {
    in_addr a{};
    a.s_addr = ::htonl(INADDR_LOOPBACK);
    return make_v4(a, port);
}

endpoint endpoint::loopback_v6(std::uint16_t port) { return make_v6(in6addr_loopback, port); }

endpoint endpoint::any_v4(std::uint16_t port) {
    in_addr a{};
    a.s_addr = ::htonl(INADDR_ANY);
    return make_v4(a, port);
}

endpoint endpoint::any_v6(std::uint16_t port) { return make_v6(in6addr_any, port); }

bool endpoint::is_v6() const noexcept { return as_v4(data()).sin_family == AF_INET6; }

std::uint16_t endpoint::port() const noexcept {
    return ::ntohs(is_v6() ? as_v6(data()).sin6_port : as_v4(data()).sin_port);
}

int endpoint::size() const noexcept { return is_v6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }

std::string endpoint::address() const {
    char text[INET6_ADDRSTRLEN] = {};
    const auto family = as_v4(data()).sin_family;
    if (family == AF_INET6) {
        ::inet_ntop(AF_INET6, &as_v6(data()).sin6_addr, text, sizeof(text));
    } else if (family == AF_INET) {
        ::inet_ntop(AF_INET, &as_v4(data()).sin_addr, text, sizeof(text));
    }
    return text;
}

std::string endpoint::to_string() const {
    if (as_v4(data()).sin_family != AF_INET && as_v4(data()).sin_family != AF_INET6) {
        return "(none)";
    }
    // Built by appending: GCC 12's -Wrestrict misfires on chained std::string operator+ at -O3.
    std::string text;
    text.reserve(INET6_ADDRSTRLEN + 8);
    if (is_v6()) {
        text.push_back('[');
    }
    text.append(address());
    if (is_v6()) {
        text.push_back(']');
    }
    text.push_back(':');
    text.append(std::to_string(port()));
    return text;
}

bool operator==(const endpoint& a, const endpoint& b) noexcept {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size())) == 0;
}

}  // namespace wire
