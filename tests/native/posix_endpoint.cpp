// wire::endpoint for the native Linux build only: the same contract as engine/src/win/endpoint.cpp,
// on the POSIX socket API, so that the front-ends' option parsers (which take addresses as
// endpoints) can be tested under the sanitizers. Never part of the Windows build.
#include <wire/endpoint.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace wire {

namespace {

template <typename Address>
endpoint make_endpoint(const Address& address) noexcept {
    static_assert(sizeof(Address) <= endpoint::capacity);
    endpoint e;
    std::memcpy(e.data(), &address, sizeof(address));
    return e;
}

sockaddr_in v4_of(const endpoint& e) noexcept {
    sockaddr_in a{};
    std::memcpy(&a, e.data(), sizeof(a));
    return a;
}

sockaddr_in6 v6_of(const endpoint& e) noexcept {
    sockaddr_in6 a{};
    std::memcpy(&a, e.data(), sizeof(a));
    return a;
}

endpoint make_v4(std::uint32_t host_order, std::uint16_t port) noexcept {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(host_order);
    return make_endpoint(a);
}

endpoint make_v6(const in6_addr& address, std::uint16_t port) noexcept {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = address;
    return make_endpoint(a);
}

}  // namespace

std::optional<endpoint> endpoint::parse(std::string_view address, std::uint16_t port) {
    const std::string text(address);
    sockaddr_in v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
        return make_v4(ntohl(v4.sin_addr.s_addr), port);
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        return make_v6(v6, port);
    }
    return std::nullopt;
}

std::vector<endpoint> endpoint::resolve(std::string_view host, std::uint16_t port, std::error_code& error) {
    error.clear();
    if (const auto numeric = parse(host, port)) {
        return {*numeric};
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const std::string name(host);
    const std::string service = std::to_string(port);
    if (host.empty() || ::getaddrinfo(name.c_str(), service.c_str(), &hints, &list) != 0) {
        error = std::make_error_code(std::errc::host_unreachable);  // POSIX has no "no such host" errc
        return {};
    }
    std::vector<endpoint> found;
    for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) && a->ai_addrlen <= capacity) {
            endpoint e;
            std::memcpy(e.data(), a->ai_addr, a->ai_addrlen);
            found.push_back(e);
        }
    }
    ::freeaddrinfo(list);
    return found;
}

endpoint endpoint::loopback_v4(std::uint16_t port) { return make_v4(INADDR_LOOPBACK, port); }
endpoint endpoint::loopback_v6(std::uint16_t port) { return make_v6(in6addr_loopback, port); }
endpoint endpoint::any_v4(std::uint16_t port) { return make_v4(INADDR_ANY, port); }
endpoint endpoint::any_v6(std::uint16_t port) { return make_v6(in6addr_any, port); }

bool endpoint::is_v6() const noexcept { return v4_of(*this).sin_family == AF_INET6; }

std::uint16_t endpoint::port() const noexcept { return ntohs(is_v6() ? v6_of(*this).sin6_port : v4_of(*this).sin_port); }

int endpoint::size() const noexcept { return is_v6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }

std::string endpoint::address() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (is_v6()) {
        const sockaddr_in6 a = v6_of(*this);
        inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text));
    } else if (v4_of(*this).sin_family == AF_INET) {
        const sockaddr_in a = v4_of(*this);
        inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
    }
    return text;
}

std::string endpoint::to_string() const {
    const std::string host = address();
    if (host.empty()) {
        return "(none)";
    }
    return (is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

bool operator==(const endpoint& a, const endpoint& b) noexcept {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size())) == 0;
}

}  // namespace wire
