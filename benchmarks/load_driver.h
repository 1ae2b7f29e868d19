#pragma once
// The load-driving half, the same code whichever server is under test, so that a ratio between
// two runs measures the engine's server against Asio's and nothing else.
//
// Why plain sockets rather than the engine's client side or Asio's: a driver built on either one
// would share code (and any slowness) with one of the two servers. Non-blocking sockets and a
// readiness poll (net.h: epoll on Linux, WSAPoll on Windows) are the common ground of both
// platforms, so the same source builds natively on Linux, where ./run.sh bench runs it and its
// calls never reach the wineserver the servers use, and for Windows, where it is the driver on a
// real Windows machine (and, under Wine, the second, labelled set of rows).
#include "net.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wire::bench {

using steady_clock = std::chrono::steady_clock;

struct echo_load {
    std::size_t connections = 1;
    std::size_t message_size = 64;
    std::size_t pipeline = 1;                   // messages in flight per connection
    // Messages each connection sends in all; with the default every echoed message is replaced
    // for as long as the driver runs.
    std::uint64_t messages_per_connection = UINT64_MAX;
};

struct driver_connection;

// Closed-loop echo load on one thread (the caller's): each connection keeps `pipeline` messages
// in flight; each time echoes complete messages, as many new ones are written, one send call
// each. Every byte that comes back is checked against what was sent. Server at 127.0.0.1:port.
class echo_driver {
public:
    // Connects every connection (blocking, each bounded). Throws std::runtime_error on failure.
    // With `tls`, every connection speaks TLS through it (the handshake is part of connecting);
    // every echo is checked the same way either way.
    echo_driver(std::uint16_t port, const echo_load& load, std::shared_ptr<net::tls_client> tls = nullptr);
    ~echo_driver();
    echo_driver(const echo_driver&) = delete;
    echo_driver& operator=(const echo_driver&) = delete;

    // Writes the first `pipeline` messages on every connection.
    void start();

    // Handles readiness until `completed() >= target`, `deadline` passes, or every connection
    // failed. Returns completed().
    std::uint64_t run_until(steady_clock::time_point deadline, std::uint64_t target = UINT64_MAX);

    // Messages whose whole echo has come back, over all connections.
    [[nodiscard]] std::uint64_t completed() const noexcept { return completed_; }
    // The first failure (a connection reset or closed, or an echo that differs), empty if none.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    // With TLS: what the first connection's handshake settled (net::stream::description); else empty.
    [[nodiscard]] const std::string& session() const noexcept { return session_; }

    // With one message in flight per connection: the round-trip time of every message completed
    // since the last clear, in microseconds (from when it was queued for sending to its whole
    // echo). Empty for pipelined loads, where one message's time would include its queue.
    [[nodiscard]] const std::vector<double>& latencies_us() const noexcept { return latencies_us_; }
    void clear_latencies() noexcept { latencies_us_.clear(); }

private:
    void receive(driver_connection& c);
    [[nodiscard]] bool on_received(driver_connection& c, std::size_t bytes);
    void send(driver_connection& c);
    void queue_messages(driver_connection& c, std::uint64_t count);
    void fail(driver_connection& c, const std::string& what);

    echo_load load_;
    std::vector<double> latencies_us_;
    net::poller poller_;
    std::vector<net::poller::event> ready_;
    std::unique_ptr<std::byte[]> buffer_;  // every receive lands here: one connection at a time
    std::vector<std::unique_ptr<driver_connection>> connections_;
    std::uint64_t completed_ = 0;
    std::size_t active_ = 0;  // connections that have not failed
    std::string error_;
    std::string session_;
};

struct udp_load {
    std::size_t sockets = 1;
    std::size_t datagram_size = 64;  // at least 16: each datagram starts with its number and socket
    std::size_t pipeline = 8;        // datagrams in flight per socket
    // A datagram not answered within this is counted lost and replaced by a new one.
    std::chrono::milliseconds loss_timeout{200};
};

struct udp_driver_socket;

// Closed-loop UDP echo load on one thread (the caller's), like echo_driver: each socket (connected
// to the server's port) keeps `pipeline` numbered datagrams in flight, one send call each, and
// sends a new one for each reply. Every reply is checked byte for byte: a reply of the wrong size
// or content, or one matching no datagram in flight nor one recently given up on, is an error.
class udp_echo_driver {
public:
    // Opens every socket. Throws std::runtime_error on failure.
    udp_echo_driver(std::uint16_t port, const udp_load& load);
    ~udp_echo_driver();
    udp_echo_driver(const udp_echo_driver&) = delete;
    udp_echo_driver& operator=(const udp_echo_driver&) = delete;

    // Sends the first `pipeline` datagrams on every socket.
    void start();
    // Handles replies and timeouts until `deadline` passes or every socket failed. Returns completed().
    std::uint64_t run_until(steady_clock::time_point deadline);

    [[nodiscard]] std::uint64_t completed() const noexcept { return completed_; }  // answered in time
    [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }            // timed out
    [[nodiscard]] std::uint64_t late() const noexcept { return late_; }            // answered after timing out
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

private:
    void receive(udp_driver_socket& s);
    [[nodiscard]] bool on_reply(udp_driver_socket& s, std::size_t bytes);
    void send(udp_driver_socket& s);
    void expire(steady_clock::time_point now);
    void fail(udp_driver_socket& s, const std::string& what);

    udp_load load_;
    net::poller poller_;
    std::vector<net::poller::event> ready_;
    std::unique_ptr<std::byte[]> buffer_;  // replies land here, datagrams are built here
    std::vector<std::unique_ptr<udp_driver_socket>> sockets_;
    std::uint64_t completed_ = 0;
    std::uint64_t lost_ = 0;
    std::uint64_t late_ = 0;
    std::size_t active_ = 0;
    std::string error_;
};

// Connection churn: `loops` threads each connect, exchange one message of `message_size` bytes,
// close, and start over, until stop() or `limit` (whichever comes first).
class churn_driver {
public:
    churn_driver(std::uint16_t port, unsigned loops, std::size_t message_size, std::chrono::seconds limit);
    ~churn_driver();  // stop()
    churn_driver(const churn_driver&) = delete;
    churn_driver& operator=(const churn_driver&) = delete;

    // Connections that completed their exchange and were closed.
    [[nodiscard]] std::uint64_t completed() const noexcept { return completed_.load(std::memory_order_relaxed); }
    void stop() noexcept;
    [[nodiscard]] std::string error() const;

private:
    void loop(std::uint16_t port, std::size_t message_size, steady_clock::time_point deadline) noexcept;
    void record(const std::string& what) noexcept;

    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> completed_{0};
    mutable std::mutex error_mutex_;
    std::string error_;
    std::vector<std::thread> threads_;
};

}  // namespace wire::bench
