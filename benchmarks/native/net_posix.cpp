// The load driver's platform layer on POSIX sockets and epoll (../net.h): the Linux-native
// driver, whose calls never reach the wineserver that the servers under test use.
#include "../net.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <array>

namespace wire::bench::net {

namespace {

std::string failure(std::string_view call, int error) {
    return std::string(call) + " failed (" + std::to_string(error) + ": " + std::strerror(error) + ")";
}

int clamp_timeout(std::chrono::milliseconds limit) {
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(limit.count(), 0, 1 << 30));
}

}  // namespace

void socket::reset(native_socket s) noexcept {
    if (s_ != invalid) {
        ::close(s_);
    }
    s_ = s;
}

session::session() : ok_(true) {}
session::~session() = default;

std::string platform_name() {
    utsname name{};
    if (::uname(&name) == 0) {
        return std::string("linux-") + name.release;
    }
    return "linux";
}

bool set_blocking(const socket& s, bool blocking) {
    const int flags = ::fcntl(s.get(), F_GETFL);
    if (flags < 0) {
        return false;
    }
    const int wanted = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
    return ::fcntl(s.get(), F_SETFL, wanted) == 0;
}

bool set_receive_timeout(const socket& s, std::chrono::milliseconds limit) {
    timeval t{static_cast<time_t>(limit.count() / 1000), static_cast<suseconds_t>((limit.count() % 1000) * 1000)};
    return ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t)) == 0;
}

socket connect_loopback(std::uint16_t port, std::chrono::milliseconds limit, std::string& problem) {
    socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!s) {
        problem = failure("socket", errno);
        return {};
    }
    // Without it Nagle would hold back a pipelined burst until the previous one is acknowledged:
    // the test would measure delayed ACKs, not servers. Both servers set it on their side too.
    const int on = 1;
    ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!set_blocking(s, false)) {
        problem = failure("fcntl", errno);
        return {};
    }
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 &&
        errno != EINPROGRESS) {
        problem = failure("connect", errno);
        return {};
    }
    pollfd entry{s.get(), POLLOUT, 0};
    const int ready = ::poll(&entry, 1, clamp_timeout(limit));
    if (ready == 0) {
        problem = "connect timed out";
        return {};
    }
    int error = 0;
    socklen_t length = sizeof(error);
    ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (ready < 0 || error != 0) {
        problem = failure("connect", ready < 0 ? errno : error);
        return {};
    }
    if (!set_blocking(s, true)) {
        problem = failure("fcntl", errno);
        return {};
    }
    return s;
}

socket open_udp_loopback(std::uint16_t port, std::string& problem) {
    socket s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP));
    if (!s) {
        problem = failure("socket", errno);
        return {};
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        problem = failure("connect", errno);
        return {};
    }
    return s;
}

io_result send_some(const socket& s, const std::byte* data, std::size_t size) {
    // MSG_NOSIGNAL: a server that went away is an error to report, not a SIGPIPE.
    const ssize_t n = ::send(s.get(), data, size, MSG_NOSIGNAL);
    if (n >= 0) {
        return {io_result::kind::done, static_cast<std::size_t>(n), {}};
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return {io_result::kind::would_block, 0, {}};
    }
    return {io_result::kind::failed, 0, failure("send", errno)};
}

io_result receive_some(const socket& s, std::byte* data, std::size_t size) {
    const ssize_t n = ::recv(s.get(), data, size, 0);
    if (n > 0) {
        return {io_result::kind::done, static_cast<std::size_t>(n), {}};
    }
    if (n == 0) {
        return {io_result::kind::closed, 0, {}};
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return {io_result::kind::would_block, 0, {}};
    }
    return {io_result::kind::failed, 0, failure("recv", errno)};
}

// One epoll descriptor; a token travels in the event's data.
struct poller::state {
    socket epoll;  // an epoll descriptor closes like a socket
    std::vector<epoll_event> events;
};

poller::poller() : state_(std::make_unique<state>()) {
    state_->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    state_->events.resize(256);
}
poller::~poller() = default;

bool poller::add(const socket& s, std::size_t token) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = token;
    return state_->epoll && ::epoll_ctl(state_->epoll.get(), EPOLL_CTL_ADD, s.get(), &e) == 0;
}

bool poller::want_write(const socket& s, std::size_t token, bool on) {
    epoll_event e{};
    e.events = on ? EPOLLIN | EPOLLOUT : EPOLLIN;
    e.data.u64 = token;
    return ::epoll_ctl(state_->epoll.get(), EPOLL_CTL_MOD, s.get(), &e) == 0;
}

bool poller::wait(std::chrono::milliseconds limit, std::vector<event>& ready, std::string& problem) {
    ready.clear();
    auto& events = state_->events;
    const int n = ::epoll_wait(state_->epoll.get(), events.data(), static_cast<int>(events.size()),
                               clamp_timeout(limit));
    if (n < 0) {
        if (errno == EINTR) {
            return true;
        }
        problem = failure("epoll_wait", errno);
        return false;
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        const auto got = events[i].events;
        // An error or a hang-up is collected by the receive that follows.
        ready.push_back({static_cast<std::size_t>(events[i].data.u64), (got & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0,
                         (got & EPOLLOUT) != 0});
    }
    return true;
}

}  // namespace wire::bench::net
