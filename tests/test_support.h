#pragma once
// Test-local helpers: bounded waiting, recording handlers, an echo handler, and a blocking
// Winsock client for playing a misbehaving peer.
#include <wire/wire.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "win/winsock.h"

namespace wire::test {

using namespace std::chrono_literals;

// Polls `done` until it holds or `limit` passes. The limit only bounds a hang; tests never assert
// on how long something took.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// Ends the process with a failure when what it guards does not finish in time: a deadlocked
// stop() must show up as a failing test at once, not as CTest's timeout (120 s) or a hung suite.
// std::_Exit because nothing else can be trusted to return: the hung thread holds locks.
// The limit only bounds a hang; tests never assert on how long something took.
class watchdog {
public:
    watchdog(std::string what, std::chrono::milliseconds limit)
        : what_(std::move(what)), thread_([this, limit] { watch(limit); }) {}
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        done_changed_.notify_all();
        thread_.join();
    }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

private:
    void watch(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        if (!done_changed_.wait_for(lock, limit, [this] { return done_; })) {
            std::fflush(stdout);
            std::fprintf(stderr, "\n[  FAILED  ] watchdog: %s did not finish within %lld ms (hang or deadlock)\n",
                         what_.c_str(), static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::_Exit(1);
        }
    }

    std::string what_;
    std::mutex mutex_;
    std::condition_variable done_changed_;
    bool done_ = false;
    std::thread thread_;  // last: starts once the members it reads exist
};

// A number from the environment (seeds, round counts), or nothing when unset. Win32's own call:
// the CRT's getenv is deprecated under MSVC (C4996).
inline std::optional<unsigned long> environment_number(const char* name) {
    char text[32] = {};
    const DWORD length = ::GetEnvironmentVariableA(name, text, sizeof(text));
    if (length == 0 || length >= sizeof(text)) {
        return std::nullopt;
    }
    return std::strtoul(text, nullptr, 10);
}

inline std::vector<std::byte> random_bytes(std::size_t size, std::uint32_t seed) {
    std::vector<std::byte> out(size);
    std::mt19937 generator(seed);
    for (auto& b : out) {
        b = static_cast<std::byte>(generator() & 0xFF);
    }
    return out;
}

inline gsl::span<const std::byte> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Everything a connection reported, guarded by one mutex.
struct recorder {
    std::mutex mutex;
    std::vector<std::byte> received;
    int opened = 0;
    int closed = 0;
    int drained = 0;
    int events_after_close = 0;
    std::error_code reason;
    wire::connection conn;

    std::size_t received_size() {
        std::lock_guard lock(mutex);
        return received.size();
    }
    bool is_closed() {
        std::lock_guard lock(mutex);
        return closed > 0;
    }
    int drained_count() {
        std::lock_guard lock(mutex);
        return drained;
    }
};

// The connection a handler published in `r.conn` (from on_open), once it has.
inline connection published_handle(recorder& r) {
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lock(r.mutex);
        return static_cast<bool>(r.conn);
    }));
    std::lock_guard lock(r.mutex);
    return r.conn;
}

class recording_handler : public connection_handler {
public:
    explicit recording_handler(std::shared_ptr<recorder> r) : r_(std::move(r)) {}
    void on_open(connection& c) override {
        std::lock_guard lock(r_->mutex);
        r_->events_after_close += r_->closed;
        ++r_->opened;
        r_->conn = c;
    }
    void on_data(connection&, gsl::span<const std::byte> data) override {
        std::lock_guard lock(r_->mutex);
        r_->events_after_close += r_->closed;
        r_->received.insert(r_->received.end(), data.begin(), data.end());
    }
    void on_drained(connection&) override {
        std::lock_guard lock(r_->mutex);
        r_->events_after_close += r_->closed;
        ++r_->drained;
    }
    void on_close(connection&, std::error_code reason) override {
        std::lock_guard lock(r_->mutex);
        ++r_->closed;
        r_->reason = reason;
        r_->conn = {};  // drop the handle so the connection can be freed
    }

private:
    std::shared_ptr<recorder> r_;
};

// Sends back every byte; when the send queue is full, stops reading until it drains. The mutex is
// held across send(): on_drained may run on another worker as soon as send() has refused, and
// must find the refused bytes already kept.
class echo_handler : public connection_handler {
public:
    void on_data(connection& c, gsl::span<const std::byte> data) override {
        std::lock_guard lock(mutex_);
        if (c.send(data) == error::send_queue_full) {
            pending_.assign(data.begin(), data.end());
            c.pause_receiving();
        }
    }
    void on_drained(connection& c) override {
        std::lock_guard lock(mutex_);
        if (!pending_.empty() && !c.send(pending_)) {
            pending_.clear();
            c.resume_receiving();
        }
    }

private:
    std::mutex mutex_;
    std::vector<std::byte> pending_;
};

inline handler_factory echo_factory() {
    return [] { return std::make_unique<echo_handler>(); };
}

// Stops the engine and checks it left nothing behind: no operation pending, no connection object.
inline void expect_stopped_clean(engine& e) {
    e.stop();
    EXPECT_EQ(e.stats().operations_pending, 0U);
    EXPECT_EQ(e.stats().connection_objects, 0U);
}

// Echo handlers for a listener that record how each of their connections ended.
struct echo_close_log {
    std::mutex mutex;
    std::vector<std::error_code> reasons;

    handler_factory factory() {
        return [this] {
            class reporting_echo : public echo_handler {
            public:
                explicit reporting_echo(echo_close_log& s) : s_(s) {}
                void on_close(connection&, std::error_code reason) override {
                    std::lock_guard lock(s_.mutex);
                    s_.reasons.push_back(reason);
                }

            private:
                echo_close_log& s_;
            };
            return std::make_unique<reporting_echo>(*this);
        };
    }
    std::vector<std::error_code> closed() {
        std::lock_guard lock(mutex);
        return reasons;
    }
};

// A plain blocking Winsock client: the peer the engine talks to in tests.
class blocking_client {
public:
    explicit blocking_client(const endpoint& server) {
        socket_ = ::socket(server.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
        EXPECT_NE(socket_, INVALID_SOCKET);
        // A bound on each blocking receive: a reply that never comes fails the test with what was
        // missing instead of hanging it until CTest's timeout (a hang detector, not a timing check).
        const DWORD receive_limit_ms = 60'000;
        ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&receive_limit_ms),
                     sizeof(receive_limit_ms));
        connected_ = ::connect(socket_, reinterpret_cast<const sockaddr*>(server.data()), server.size()) == 0;
    }
    ~blocking_client() { close(); }
    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    [[nodiscard]] bool connected() const { return connected_; }

    bool send_all(gsl::span<const std::byte> data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            const int chunk = static_cast<int>(std::min<std::size_t>(data.size() - sent, 1 << 20));
            const int n = ::send(socket_, reinterpret_cast<const char*>(data.data() + sent), chunk, 0);
            if (n <= 0) {
                return false;
            }
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }
    // Reads exactly `size` bytes (or fewer if the stream ends or fails).
    std::vector<std::byte> receive_exactly(std::size_t size) {
        std::vector<std::byte> out(size);
        std::size_t got = 0;
        while (got < size) {
            const int n = ::recv(socket_, reinterpret_cast<char*>(out.data() + got), static_cast<int>(size - got), 0);
            if (n <= 0) {
                break;
            }
            got += static_cast<std::size_t>(n);
        }
        out.resize(got);
        return out;
    }
    // Reads until the peer closes; returns what arrived and whether it ended cleanly (FIN).
    std::pair<std::vector<std::byte>, bool> receive_to_end() {
        std::vector<std::byte> out;
        char buffer[16384];
        for (;;) {
            const int n = ::recv(socket_, buffer, sizeof(buffer), 0);
            if (n == 0) {
                return {out, true};
            }
            if (n < 0) {
                return {out, false};
            }
            const auto* first = reinterpret_cast<const std::byte*>(buffer);
            out.insert(out.end(), first, first + n);
        }
    }
    void shutdown_send() { ::shutdown(socket_, SD_SEND); }
    void reset() {
        const linger l{1, 0};
        ::setsockopt(socket_, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof(l));
        close();
    }
    void close() {
        if (socket_ != INVALID_SOCKET) {
            ::closesocket(socket_);
            socket_ = INVALID_SOCKET;
        }
    }
    [[nodiscard]] SOCKET native() const { return socket_; }

private:
    SOCKET socket_ = INVALID_SOCKET;
    bool connected_ = false;
};

// A plain blocking listening socket: the peer for an engine that connects, so that the only
// engine in the process is the one under test (and a fault platform counts only its calls).
class raw_listener {
public:
    raw_listener() {
        socket_ = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        EXPECT_EQ(::listen(socket_, 16), 0);
        int length = sizeof(address);
        EXPECT_EQ(::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length), 0);
        port_ = ntohs(address.sin_port);
    }
    ~raw_listener() { ::closesocket(socket_); }
    raw_listener(const raw_listener&) = delete;
    raw_listener& operator=(const raw_listener&) = delete;

    [[nodiscard]] endpoint address() const { return endpoint::loopback_v4(port_); }
    SOCKET accept_one() { return ::accept(socket_, nullptr, nullptr); }

private:
    SOCKET socket_ = INVALID_SOCKET;
    std::uint16_t port_ = 0;
};

// Winsock for the blocking client (the engine holds its own start-up).
class winsock_environment : public ::testing::Environment {
public:
    void SetUp() override {
        WSADATA data{};
        ASSERT_EQ(::WSAStartup(MAKEWORD(2, 2), &data), 0);
    }
    void TearDown() override { ::WSACleanup(); }
};

}  // namespace wire::test
