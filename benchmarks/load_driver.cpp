#include "load_driver.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace wire::bench {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t receive_size = 64 * 1024;
constexpr std::size_t max_send = 1 << 20;  // bytes per WSASend; a burst larger than this loops
// Sent bytes repeat with this period, so the byte at stream offset i is i % 251: a prime period
// makes a chunk echoed twice, dropped or reordered show up as a mismatch.
constexpr std::size_t pattern_period = 251;

const std::vector<std::byte>& pattern() {
    static const std::vector<std::byte> bytes = [] {
        std::vector<std::byte> out(std::max(max_send, receive_size) + pattern_period);
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i] = static_cast<std::byte>(i % pattern_period);
        }
        return out;
    }();
    return bytes;
}

const std::byte* pattern_at(std::uint64_t stream_offset) {
    return pattern().data() + stream_offset % pattern_period;
}

std::string winsock_failure(std::string_view call, int error) {
    return std::string(call) + " failed (" + std::to_string(error) + ")";
}

// ioctlsocket takes the command as a long, but the SDK's FIONBIO is an unsigned expression with
// the top bit set (IOC_IN): the cast keeps the bit pattern, which is what Winsock decodes.
void set_blocking(SOCKET s, bool blocking) {
    u_long non_blocking = blocking ? 0 : 1;
    ::ioctlsocket(s, static_cast<long>(FIONBIO), &non_blocking);
}

void set_no_delay(SOCKET s) {
    // Without it Nagle would hold back a pipelined burst until the previous one is acknowledged:
    // the test would measure delayed ACKs, not servers. Both servers set it on their side too.
    const BOOL on = TRUE;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&on), sizeof(on));
}

}  // namespace

wire::detail::unique_socket connect_to(const endpoint& server, std::chrono::milliseconds limit, std::string& problem) {
    wire::detail::unique_socket s(::socket(server.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP));
    if (!s) {
        problem = winsock_failure("socket", ::WSAGetLastError());
        return {};
    }
    set_blocking(s.get(), false);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(server.data()), server.size()) == SOCKET_ERROR &&
        ::WSAGetLastError() != WSAEWOULDBLOCK) {
        problem = winsock_failure("connect", ::WSAGetLastError());
        return {};
    }
    fd_set writable;
    fd_set failed;
    FD_ZERO(&writable);
    FD_ZERO(&failed);
    FD_SET(s.get(), &writable);
    FD_SET(s.get(), &failed);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
    timeval timeout{static_cast<long>(micros / 1'000'000), static_cast<long>(micros % 1'000'000)};
    const int ready = ::select(0, nullptr, &writable, &failed, &timeout);
    if (ready == 0) {
        problem = "connect timed out";
        return {};
    }
    if (ready == SOCKET_ERROR || FD_ISSET(s.get(), &failed)) {
        int error = 0;
        int length = static_cast<int>(sizeof(error));
        ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &length);
        problem = winsock_failure("connect", ready == SOCKET_ERROR ? ::WSAGetLastError() : error);
        return {};
    }
    set_blocking(s.get(), true);
    return s;
}

// ---- echo driver -------------------------------------------------------------------------------

// One overlapped call in flight; the OVERLAPPED is the base, so a dequeued entry casts back to it.
struct driver_operation : OVERLAPPED {
    driver_connection* owner = nullptr;
    bool pending = false;  // issued and its completion packet not yet dequeued

    void reset_overlapped() noexcept { static_cast<OVERLAPPED&>(*this) = OVERLAPPED{}; }
};

// Lives in a unique_ptr: its operations' addresses are handed to the kernel.
struct driver_connection {
    wire::detail::unique_socket socket;
    bool skips_port = false;  // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set
    bool failed = false;
    driver_operation receive_op;
    driver_operation send_op;
    std::unique_ptr<std::byte[]> buffer = std::make_unique_for_overwrite<std::byte[]>(receive_size);
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_owed = 0;  // written by queue_messages, not yet accepted by WSASend
    std::uint64_t bytes_received = 0;
    std::uint64_t messages_queued = 0;
    std::uint64_t messages_received = 0;
    steady_clock::time_point queued_at{};  // when the last message was queued (pipeline 1)
};

echo_driver::echo_driver(const endpoint& server, const echo_load& load) : load_(load) {
    port_.reset(::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1));
    if (!port_) {
        throw std::runtime_error(winsock_failure("CreateIoCompletionPort", static_cast<int>(::GetLastError())));
    }
    connections_.reserve(load_.connections);
    for (std::size_t i = 0; i < load_.connections; ++i) {
        auto c = std::make_unique<driver_connection>();
        std::string problem;
        c->socket = connect_to(server, 10s, problem);
        if (!c->socket) {
            throw std::runtime_error(problem);
        }
        set_no_delay(c->socket.get());
        const auto handle = reinterpret_cast<HANDLE>(c->socket.get());
        if (::CreateIoCompletionPort(handle, port_.get(), 0, 0) == nullptr) {
            throw std::runtime_error(winsock_failure("CreateIoCompletionPort", static_cast<int>(::GetLastError())));
        }
        c->skips_port = ::SetFileCompletionNotificationModes(
                            handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) != FALSE;
        c->receive_op.owner = c.get();
        c->send_op.owner = c.get();
        connections_.push_back(std::move(c));
    }
    active_ = connections_.size();
}

echo_driver::~echo_driver() {
    // Cancel first: under Wine a send stuck on a peer that does not read completes only then.
    for (const auto& c : connections_) {
        ::CancelIoEx(reinterpret_cast<HANDLE>(c->socket.get()), nullptr);
        c->socket.reset();
    }
    const auto pending = [this] {
        return std::any_of(connections_.begin(), connections_.end(),
                           [](const auto& c) { return c->receive_op.pending || c->send_op.pending; });
    };
    const auto deadline = steady_clock::now() + 10s;
    std::array<OVERLAPPED_ENTRY, 64> entries{};
    while (pending() && steady_clock::now() < deadline) {
        ULONG removed = 0;
        if (::GetQueuedCompletionStatusEx(port_.get(), entries.data(), static_cast<ULONG>(entries.size()), &removed,
                                          100, FALSE) != FALSE) {
            for (ULONG i = 0; i < removed; ++i) {
                static_cast<driver_operation*>(entries[i].lpOverlapped)->pending = false;
            }
        }
    }
    // An operation that never completed may still be written by the kernel: its memory is
    // leaked on purpose rather than freed under it.
    for (auto& c : connections_) {
        if (c->receive_op.pending || c->send_op.pending) {
            static_cast<void>(c.release());
        }
    }
}

void echo_driver::start() {
    for (const auto& c : connections_) {
        receive(*c);
        queue_messages(*c, load_.pipeline);
        send(*c);
    }
}

std::uint64_t echo_driver::run_until(steady_clock::time_point deadline, std::uint64_t target) {
    // The deadline is checked between batches: a small batch keeps the overshoot of a window
    // small when each entry costs several (slow, under Wine) calls.
    std::array<OVERLAPPED_ENTRY, 16> entries{};
    while (completed_ < target && active_ > 0) {
        const auto now = steady_clock::now();
        if (now >= deadline) {
            break;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        ULONG removed = 0;
        if (::GetQueuedCompletionStatusEx(port_.get(), entries.data(), static_cast<ULONG>(entries.size()), &removed,
                                          static_cast<DWORD>(left), FALSE) == FALSE) {
            if (const DWORD error = ::GetLastError(); error != WAIT_TIMEOUT) {
                error_ = winsock_failure("GetQueuedCompletionStatusEx", static_cast<int>(error));
                break;
            }
            continue;
        }
        for (ULONG i = 0; i < removed; ++i) {
            on_completion(entries[i]);
        }
    }
    return completed_;
}

void echo_driver::on_completion(const OVERLAPPED_ENTRY& entry) {
    auto& op = static_cast<driver_operation&>(*entry.lpOverlapped);
    driver_connection& c = *op.owner;
    op.pending = false;
    DWORD bytes = entry.dwNumberOfBytesTransferred;
    if (entry.lpOverlapped->Internal != 0) {  // an NTSTATUS other than STATUS_SUCCESS
        DWORD flags = 0;
        if (::WSAGetOverlappedResult(c.socket.get(), &op, &bytes, FALSE, &flags) == FALSE) {
            fail(c, winsock_failure(&op == &c.send_op ? "WSASend" : "WSARecv", ::WSAGetLastError()));
            return;
        }
    }
    if (&op == &c.send_op) {
        on_sent(c, bytes);
        send(c);
    } else if (on_received(c, bytes)) {
        receive(c);
    }
}

// Loops while receives complete at once (handled inline, no packet is queued), at most
// max_inline_receives times: each round writes new messages, and a server quick enough to echo
// them before the next receive would otherwise keep one connection in this loop for good while
// the others, and the deadline in run_until, wait. Past the cap the completion is queued behind
// whatever else is in the port.
void echo_driver::receive(driver_connection& c) {
    constexpr int max_inline_receives = 8;
    for (int inline_receives = 0; !c.failed; ++inline_receives) {
        c.receive_op.reset_overlapped();
        WSABUF buffer{static_cast<ULONG>(receive_size), reinterpret_cast<char*>(c.buffer.get())};
        DWORD flags = 0;
        DWORD received = 0;
        if (::WSARecv(c.socket.get(), &buffer, 1, &received, &flags, &c.receive_op, nullptr) == 0) {
            if (!c.skips_port) {
                c.receive_op.pending = true;  // a packet is queued for this success too
                return;
            }
            if (inline_receives + 1 >= max_inline_receives) {
                c.receive_op.Internal = 0;  // STATUS_SUCCESS, as on_completion reads it
                if (::PostQueuedCompletionStatus(port_.get(), received, 0, &c.receive_op) != FALSE) {
                    c.receive_op.pending = true;
                    return;
                }
            }
            if (!on_received(c, received)) {
                return;
            }
            continue;
        }
        if (const int error = ::WSAGetLastError(); error != WSA_IO_PENDING) {
            fail(c, winsock_failure("WSARecv", error));
            return;
        }
        c.receive_op.pending = true;
        return;
    }
}

bool echo_driver::on_received(driver_connection& c, DWORD bytes) {
    if (bytes == 0) {
        fail(c, "the server closed a connection");
        return false;
    }
    if (std::memcmp(c.buffer.get(), pattern_at(c.bytes_received), bytes) != 0) {
        fail(c, "an echo differs from what was sent");
        return false;
    }
    c.bytes_received += bytes;
    const std::uint64_t messages = c.bytes_received / load_.message_size;
    const std::uint64_t finished = messages - c.messages_received;
    c.messages_received = messages;
    completed_ += finished;
    if (finished > 0 && load_.pipeline == 1) {
        latencies_us_.push_back(std::chrono::duration<double, std::micro>(steady_clock::now() - c.queued_at).count());
    }
    if (finished > 0) {
        queue_messages(c, finished);
        send(c);
    }
    return true;
}

void echo_driver::queue_messages(driver_connection& c, std::uint64_t count) {
    count = std::min(count, load_.messages_per_connection - c.messages_queued);
    c.messages_queued += count;
    c.queued_at = steady_clock::now();
    c.bytes_owed += count * load_.message_size;
}

// One WSASend per message (a large message in pieces of at most max_send): the messages in
// flight reach the server as separate writes, as from a client that sends each request when it
// is produced, so the server sees them one by one whenever it keeps up and coalesced when it
// falls behind. (Writing a whole burst at once would turn "8 small messages in flight" into one
// 8-message round trip.)
void echo_driver::send(driver_connection& c) {
    while (c.bytes_owed > 0 && !c.send_op.pending && !c.failed) {
        const std::uint64_t message_left = load_.message_size - c.bytes_sent % load_.message_size;
        const auto length = static_cast<ULONG>(std::min({c.bytes_owed, message_left, std::uint64_t{max_send}}));
        // WSABUF's pointer is not const; WSASend only reads through it.
        WSABUF buffer{length, reinterpret_cast<char*>(const_cast<std::byte*>(pattern_at(c.bytes_sent)))};
        c.send_op.reset_overlapped();
        DWORD sent = 0;
        if (::WSASend(c.socket.get(), &buffer, 1, &sent, 0, &c.send_op, nullptr) == 0) {
            if (!c.skips_port) {
                c.send_op.pending = true;
                return;
            }
            on_sent(c, sent);
            continue;
        }
        if (const int error = ::WSAGetLastError(); error != WSA_IO_PENDING) {
            fail(c, winsock_failure("WSASend", error));
            return;
        }
        c.send_op.pending = true;
    }
}

void echo_driver::on_sent(driver_connection& c, DWORD bytes) {
    c.bytes_sent += bytes;
    c.bytes_owed -= std::min<std::uint64_t>(bytes, c.bytes_owed);
}

void echo_driver::fail(driver_connection& c, const std::string& what) {
    if (c.failed) {
        return;
    }
    c.failed = true;
    --active_;
    if (error_.empty()) {
        error_ = what;
    }
}

// ---- churn driver ------------------------------------------------------------------------------

churn_driver::churn_driver(const endpoint& server, unsigned loops, std::size_t message_size,
                           std::chrono::seconds limit) {
    const auto deadline = steady_clock::now() + limit;
    threads_.reserve(loops);
    for (unsigned i = 0; i < loops; ++i) {
        threads_.emplace_back([this, server, message_size, deadline] { loop(server, message_size, deadline); });
    }
}

churn_driver::~churn_driver() { stop(); }

void churn_driver::stop() noexcept {
    stopping_.store(true, std::memory_order_relaxed);
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
}

std::string churn_driver::error() const {
    std::lock_guard lock(error_mutex_);
    return error_;
}

void churn_driver::record(const std::string& what) noexcept {
    std::lock_guard lock(error_mutex_);
    if (error_.empty()) {
        error_ = what;
    }
}

// Plain blocking calls: each loop has one connection at a time, which is what a churn test asks
// of the server (accept, one exchange, close) without pipelining anything on the client side.
void churn_driver::loop(const endpoint& server, std::size_t message_size, steady_clock::time_point deadline) noexcept {
    constexpr std::uint64_t max_per_loop = 1'000'000;  // a bound on the count besides the deadline
    std::vector<std::byte> reply(message_size);
    for (std::uint64_t n = 0; n < max_per_loop && !stopping_.load(std::memory_order_relaxed) &&
                              steady_clock::now() < deadline;
         ++n) {
        std::string problem;
        wire::detail::unique_socket s = connect_to(server, 10s, problem);
        if (!s) {
            record(problem);
            return;
        }
        const DWORD receive_timeout_ms = 10'000;  // a silent server fails the loop instead of hanging it
        ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&receive_timeout_ms),
                     sizeof(receive_timeout_ms));
        const int length = static_cast<int>(message_size);
        if (::send(s.get(), reinterpret_cast<const char*>(pattern_at(0)), length, 0) != length) {
            record(winsock_failure("send", ::WSAGetLastError()));
            return;
        }
        int got = 0;
        while (got < length) {
            const int r = ::recv(s.get(), reinterpret_cast<char*>(reply.data()) + got, length - got, 0);
            if (r <= 0) {
                record(r == 0 ? std::string("the server closed before echoing")
                              : winsock_failure("recv", ::WSAGetLastError()));
                return;
            }
            got += r;
        }
        if (std::memcmp(reply.data(), pattern_at(0), message_size) != 0) {
            record("an echo differs from what was sent");
            return;
        }
        s.reset();  // graceful close: the client side takes TIME_WAIT, as clients normally do
        completed_.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace wire::bench
