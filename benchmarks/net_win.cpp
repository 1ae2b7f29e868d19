// The load driver's platform layer on Winsock (net.h).
#include "net.h"

#include "win32.h"

#include <algorithm>

namespace wire::bench::net {

namespace {

std::string failure(std::string_view call, int error) {
    return std::string(call) + " failed (" + std::to_string(error) + ")";
}

SOCKET raw(const socket& s) noexcept { return static_cast<SOCKET>(s.get()); }

int clamp_int(std::size_t size) noexcept {
    return static_cast<int>(std::min<std::size_t>(size, 1U << 30));
}

}  // namespace

void socket::reset(native_socket s) noexcept {
    if (s_ != invalid) {
        ::closesocket(static_cast<SOCKET>(s_));
    }
    s_ = s;
}

session::session() {
    WSADATA data{};
    ok_ = ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
}

session::~session() {
    if (ok_) {
        ::WSACleanup();
    }
}

std::string platform_name() {
    if (const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll"); ntdll != nullptr) {
        if (const FARPROC proc = ::GetProcAddress(ntdll, "wine_get_version"); proc != nullptr) {
            // Through void(*)(): the one function-pointer type every other converts to without a warning.
            const auto get_version = reinterpret_cast<const char* (*)()>(reinterpret_cast<void (*)()>(proc));
            return std::string("wine-") + get_version();
        }
    }
    return "windows";
}

// ioctlsocket takes the command as a long, but the SDK's FIONBIO is an unsigned expression with
// the top bit set (IOC_IN): the cast keeps the bit pattern, which is what Winsock decodes.
bool set_blocking(const socket& s, bool blocking) {
    u_long non_blocking = blocking ? 0 : 1;
    return ::ioctlsocket(raw(s), static_cast<long>(FIONBIO), &non_blocking) == 0;
}

bool set_receive_timeout(const socket& s, std::chrono::milliseconds limit) {
    const auto ms = static_cast<DWORD>(limit.count());
    return ::setsockopt(raw(s), SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof(ms)) == 0;
}

socket connect_loopback(std::uint16_t port, std::chrono::milliseconds limit, std::string& problem) {
    socket s(static_cast<native_socket>(::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)));
    if (!s) {
        problem = failure("socket", ::WSAGetLastError());
        return {};
    }
    // Without it Nagle would hold back a pipelined burst until the previous one is acknowledged:
    // the test would measure delayed ACKs, not servers. Both servers set it on their side too.
    const BOOL on = TRUE;
    ::setsockopt(raw(s), IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&on), sizeof(on));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = ::htons(port);
    address.sin_addr.s_addr = ::htonl(INADDR_LOOPBACK);
    if (!set_blocking(s, false)) {
        problem = failure("ioctlsocket", ::WSAGetLastError());
        return {};
    }
    if (::connect(raw(s), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == SOCKET_ERROR &&
        ::WSAGetLastError() != WSAEWOULDBLOCK) {
        problem = failure("connect", ::WSAGetLastError());
        return {};
    }
    WSAPOLLFD entry{raw(s), POLLWRNORM, 0};
    const int ready = ::WSAPoll(&entry, 1, static_cast<INT>(limit.count()));
    if (ready == 0) {
        problem = "connect timed out";
        return {};
    }
    int error = 0;
    int length = static_cast<int>(sizeof(error));
    ::getsockopt(raw(s), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &length);
    if (ready == SOCKET_ERROR || error != 0 || (entry.revents & (POLLERR | POLLHUP)) != 0) {
        problem = failure("connect", ready == SOCKET_ERROR ? ::WSAGetLastError() : error);
        return {};
    }
    if (!set_blocking(s, true)) {
        problem = failure("ioctlsocket", ::WSAGetLastError());
        return {};
    }
    return s;
}

socket open_udp_loopback(std::uint16_t port, std::string& problem) {
    socket s(static_cast<native_socket>(::socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)));
    if (!s) {
        problem = failure("socket", ::WSAGetLastError());
        return {};
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = ::htons(port);
    address.sin_addr.s_addr = ::htonl(INADDR_LOOPBACK);
    if (::connect(raw(s), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == SOCKET_ERROR) {
        problem = failure("connect", ::WSAGetLastError());
        return {};
    }
    if (!set_blocking(s, false)) {
        problem = failure("ioctlsocket", ::WSAGetLastError());
        return {};
    }
    return s;
}

io_result send_some(const socket& s, const std::byte* data, std::size_t size) {
    const int n = ::send(raw(s), reinterpret_cast<const char*>(data), clamp_int(size), 0);
    if (n >= 0) {
        return {io_result::kind::done, static_cast<std::size_t>(n), {}};
    }
    const int error = ::WSAGetLastError();
    if (error == WSAEWOULDBLOCK) {
        return {io_result::kind::would_block, 0, {}};
    }
    return {io_result::kind::failed, 0, failure("send", error)};
}

io_result receive_some(const socket& s, std::byte* data, std::size_t size) {
    const int n = ::recv(raw(s), reinterpret_cast<char*>(data), clamp_int(size), 0);
    if (n > 0) {
        return {io_result::kind::done, static_cast<std::size_t>(n), {}};
    }
    if (n == 0) {
        return {io_result::kind::closed, 0, {}};
    }
    const int error = ::WSAGetLastError();
    if (error == WSAEWOULDBLOCK) {
        return {io_result::kind::would_block, 0, {}};
    }
    return {io_result::kind::failed, 0, failure("recv", error)};
}

// WSAPoll over one array; a token is the socket's index in it.
struct poller::state {
    std::vector<WSAPOLLFD> entries;
};

poller::poller() : state_(std::make_unique<state>()) {}
poller::~poller() = default;

bool poller::add(const socket& s, std::size_t token) {
    if (token != state_->entries.size()) {
        return false;
    }
    state_->entries.push_back(WSAPOLLFD{raw(s), POLLRDNORM, 0});
    return true;
}

bool poller::want_write(const socket&, std::size_t token, bool on) {
    if (token >= state_->entries.size()) {
        return false;
    }
    state_->entries[token].events = static_cast<SHORT>(on ? POLLRDNORM | POLLWRNORM : POLLRDNORM);
    return true;
}

bool poller::wait(std::chrono::milliseconds limit, std::vector<event>& ready, std::string& problem) {
    ready.clear();
    auto& entries = state_->entries;
    const int n = ::WSAPoll(entries.data(), static_cast<ULONG>(entries.size()), static_cast<INT>(limit.count()));
    if (n == SOCKET_ERROR) {
        problem = failure("WSAPoll", ::WSAGetLastError());
        return false;
    }
    for (std::size_t i = 0; i < entries.size() && n > 0; ++i) {
        const SHORT got = entries[i].revents;
        if (got == 0) {
            continue;
        }
        // An error or a hang-up is collected by the receive that follows.
        ready.push_back({i, (got & (POLLRDNORM | POLLERR | POLLHUP)) != 0, (got & POLLWRNORM) != 0});
    }
    return true;
}

// The Windows build drives no TLS: the TLS rows are the Linux-native driver's (OpenSSL), so that the
// client's records never share a wineserver with the server's.
std::shared_ptr<tls_client> make_tls_client(std::string& problem) {
    problem = "the Windows build has no TLS client (the TLS rows are the native driver's)";
    return nullptr;
}

}  // namespace wire::bench::net
