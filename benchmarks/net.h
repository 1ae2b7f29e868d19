#pragma once
// The load driver's platform layer: the few socket calls it makes, on Winsock (net_win.cpp, the
// Windows build) or on POSIX sockets and epoll (native/net_posix.cpp, the Linux-native driver
// that ./run.sh bench uses). Everything above this header is the same code on both.
//
// Loopback IPv4 only: the driver talks to a server on this machine and nothing else.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wire::bench::net {

#ifdef _WIN32
using native_socket = std::uintptr_t;  // SOCKET, without Windows headers in this header
#else
using native_socket = int;
#endif

// A socket, closed when the owner goes. Move-only; empty when default-constructed.
class socket {
public:
    socket() noexcept = default;
    explicit socket(native_socket s) noexcept : s_(s) {}
    ~socket() { reset(); }
    socket(socket&& other) noexcept : s_(other.release()) {}
    socket& operator=(socket&& other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;

    [[nodiscard]] native_socket get() const noexcept { return s_; }
    [[nodiscard]] explicit operator bool() const noexcept { return s_ != invalid; }
    native_socket release() noexcept {
        const native_socket s = s_;
        s_ = invalid;
        return s;
    }
    void reset(native_socket s = invalid) noexcept;

#ifdef _WIN32
    static constexpr native_socket invalid = ~native_socket{0};  // INVALID_SOCKET
#else
    static constexpr native_socket invalid = -1;
#endif

private:
    native_socket s_ = invalid;
};

// Whatever the platform needs before the first socket call (WSAStartup), undone at the end.
class session {
public:
    session();
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    [[nodiscard]] bool ok() const noexcept { return ok_; }

private:
    bool ok_ = false;
};

// Where the driver runs: "linux", "windows", or "wine-8.0" (results only compare within one).
[[nodiscard]] std::string platform_name();

// A blocking TCP socket connected to 127.0.0.1:port with TCP_NODELAY set, or an empty one with
// `problem` set. The connect itself waits at most `limit`, so a server that stopped accepting
// cannot hang the driver.
[[nodiscard]] socket connect_loopback(std::uint16_t port, std::chrono::milliseconds limit, std::string& problem);

// A non-blocking UDP socket bound to an ephemeral loopback port and connected to 127.0.0.1:port, so
// that send_some and receive_some carry one datagram each and only the server's datagrams arrive;
// or an empty one with `problem` set.
[[nodiscard]] socket open_udp_loopback(std::uint16_t port, std::string& problem);

// Switches the socket between blocking and non-blocking calls.
[[nodiscard]] bool set_blocking(const socket& s, bool blocking);
// A blocking receive on this socket fails after `limit` instead of waiting for good.
[[nodiscard]] bool set_receive_timeout(const socket& s, std::chrono::milliseconds limit);

// What one send or receive did.
struct io_result {
    enum class kind { done, would_block, closed, failed };
    kind what = kind::failed;
    std::size_t bytes = 0;  // for done
    std::string problem;    // for failed: the call and its error code
};
[[nodiscard]] io_result send_some(const socket& s, const std::byte* data, std::size_t size);
[[nodiscard]] io_result receive_some(const socket& s, std::byte* data, std::size_t size);

// A protocol between the driver's bytes and a connected socket: the TLS client's records. Its
// send_some and receive_some mean what the functions above mean, for the application's bytes, on
// the socket it was opened on (non-blocking by then: would_block when the socket would block).
class stream {
public:
    virtual ~stream() = default;
    [[nodiscard]] virtual io_result send_some(const std::byte* data, std::size_t size) = 0;
    [[nodiscard]] virtual io_result receive_some(std::byte* data, std::size_t size) = 0;
    // What the handshake settled, e.g. "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384".
    [[nodiscard]] virtual std::string description() const = 0;
};

// The driver's TLS client: OpenSSL in the Linux-native driver (native/tls_client_openssl.cpp);
// none in the Windows build, whose TLS rows are left to the native driver. It does not verify the
// server's certificate: the rows measure records, and the handshake is outside every window.
class tls_client {
public:
    virtual ~tls_client() = default;
    // The handshake on the connected, blocking socket `s`, each wait at most `limit`. Returns the
    // stream, or nullptr with `problem` set. The socket must outlive the stream.
    [[nodiscard]] virtual std::unique_ptr<stream> open(const socket& s, std::chrono::milliseconds limit,
                                                       std::string& problem) = 0;
};
// nullptr with `problem` set where there is no TLS client.
[[nodiscard]] std::shared_ptr<tls_client> make_tls_client(std::string& problem);

// Readiness of many non-blocking sockets (epoll on Linux, WSAPoll on Windows), level-triggered:
// a socket stays reported while it can be read (or written, when asked for).
class poller {
public:
    struct event {
        std::size_t token = 0;  // what add() was given
        bool readable = false;  // data, end of stream, or an error to collect with a receive
        bool writable = false;
    };

    poller();
    ~poller();
    poller(const poller&) = delete;
    poller& operator=(const poller&) = delete;

    // Watches `s` for reading; tokens are 0, 1, 2, ... in the order of the calls.
    [[nodiscard]] bool add(const socket& s, std::size_t token);
    // Watches `s` (added as `token`) for writing as well, or no longer.
    [[nodiscard]] bool want_write(const socket& s, std::size_t token, bool on);
    // Waits at most `limit` and fills `ready` (cleared first). False with `problem` on failure.
    [[nodiscard]] bool wait(std::chrono::milliseconds limit, std::vector<event>& ready, std::string& problem);

private:
    struct state;
    std::unique_ptr<state> state_;  // the platform's: an epoll descriptor, or the WSAPOLLFD array
};

}  // namespace wire::bench::net
