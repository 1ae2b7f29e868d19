#pragma once
// The load-driving half, the same code whichever server is under test, so that a ratio between
// two runs measures the engine's server against Asio's and nothing else.
//
// Why raw Winsock rather than the engine's client side or Asio's: a driver built on either one
// would share code (and any slowness) with one of the two servers. Plain overlapped Winsock on
// its own completion port is the common baseline both are built on. It is also the cheapest
// driver available here: under Wine every Winsock call and every dequeue is a round trip to the
// single wineserver that the server under test uses as well, so the driver makes as few calls as
// it can (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, batched dequeues, 64 KiB receives) to leave the
// server's own calls dominating the time measured.
#include "win/unique_handle.h"
#include "win/unique_socket.h"

#include <wire/endpoint.h>

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

// A connected TCP socket (blocking mode), or an empty one with `problem` set. Connects without
// blocking and waits at most `limit`, so a server that stopped accepting cannot hang the driver.
[[nodiscard]] wire::detail::unique_socket connect_to(const endpoint& server, std::chrono::milliseconds limit, std::string& problem);

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
// in flight; each time echoes complete messages, as many new ones are written, one send each.
// Every byte that comes back is checked against what was sent.
class echo_driver {
public:
    // Connects every connection (blocking, each bounded). Throws std::runtime_error on failure.
    echo_driver(const endpoint& server, const echo_load& load);
    // Cancels and closes every connection, and waits (bounded) until their operations completed.
    ~echo_driver();
    echo_driver(const echo_driver&) = delete;
    echo_driver& operator=(const echo_driver&) = delete;

    // Writes the first `pipeline` messages on every connection and posts the receives.
    void start();

    // Handles completions until `completed() >= target`, `deadline` passes, or every connection
    // failed. Returns completed().
    std::uint64_t run_until(steady_clock::time_point deadline, std::uint64_t target = UINT64_MAX);

    // Messages whose whole echo has come back, over all connections.
    [[nodiscard]] std::uint64_t completed() const noexcept { return completed_; }
    // The first failure (a connection reset or closed, or an echo that differs), empty if none.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

    // With one message in flight per connection: the round-trip time of every message completed
    // since the last clear, in microseconds (from when it was queued for sending to its whole
    // echo). Empty for pipelined loads, where one message's time would include its queue.
    [[nodiscard]] const std::vector<double>& latencies_us() const noexcept { return latencies_us_; }
    void clear_latencies() noexcept { latencies_us_.clear(); }

private:
    void receive(driver_connection& c);
    [[nodiscard]] bool on_received(driver_connection& c, DWORD bytes);
    void send(driver_connection& c);
    void on_sent(driver_connection& c, DWORD bytes);
    void on_completion(const OVERLAPPED_ENTRY& entry);
    void queue_messages(driver_connection& c, std::uint64_t count);
    void fail(driver_connection& c, const std::string& what);

    echo_load load_;
    std::vector<double> latencies_us_;
    wire::detail::unique_handle port_;
    std::vector<std::unique_ptr<driver_connection>> connections_;
    std::uint64_t completed_ = 0;
    std::size_t active_ = 0;  // connections that have not failed
    std::string error_;
};

// Connection churn: `loops` threads each connect, exchange one message of `message_size` bytes,
// close, and start over, until stop() or `limit` (whichever comes first).
class churn_driver {
public:
    churn_driver(const endpoint& server, unsigned loops, std::size_t message_size, std::chrono::seconds limit);
    ~churn_driver();  // stop()
    churn_driver(const churn_driver&) = delete;
    churn_driver& operator=(const churn_driver&) = delete;

    // Connections that completed their exchange and were closed.
    [[nodiscard]] std::uint64_t completed() const noexcept { return completed_.load(std::memory_order_relaxed); }
    void stop() noexcept;
    [[nodiscard]] std::string error() const;

private:
    void loop(const endpoint& server, std::size_t message_size, steady_clock::time_point deadline) noexcept;
    void record(const std::string& what) noexcept;

    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> completed_{0};
    mutable std::mutex error_mutex_;
    std::string error_;
    std::vector<std::thread> threads_;
};

}  // namespace wire::bench
