#pragma once
// The driver's end of the serve mode (serve.h): starts engine_benchmarks.exe as an echo server in
// a child process (on Linux under wine), asks it for its counters, and stops it.
#include "child_process.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace wire::bench {

// A "stats" answer: the server's counters and memory by name; absent names read 0.
class server_counters {
public:
    server_counters() = default;
    explicit server_counters(std::map<std::string, std::uint64_t, std::less<>> values) : values_(std::move(values)) {}
    [[nodiscard]] std::uint64_t operator[](std::string_view name) const;

private:
    std::map<std::string, std::uint64_t, std::less<>> values_;
};

class server_process {
public:
    // Starts "[LAUNCHER] SERVER --serve KIND --port 0 --workers N" (settings::server_command, scenarios.h;
    // a KIND ending in -tls gets "--pfx PATH --password PASSWORD" from settings::tls_pfx and tls_password)
    // and waits (bounded) for its "listening on" line. Throws std::runtime_error when it does not
    // come.
    // With `trace_wineserver` (a profiling aid under Wine) the server runs with WINEDEBUG=+server,
    // which logs every wineserver request it makes to the shared stderr, and its "final" counters
    // line is copied to stderr when it stops, so that tools/wineserver_profile.py can divide the
    // requests by the messages served.
    server_process(std::string_view kind, unsigned workers, bool trace_wineserver = false);
    // Asks the server to quit, waits for it (bounded), terminates it if it did not exit.
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    [[nodiscard]] std::string_view kind() const noexcept { return kind_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    // One "stats" request. Throws std::runtime_error when no answer comes in time.
    [[nodiscard]] server_counters counters();

    // Polls until the server holds no connection (what the previous benchmark left is closed).
    [[nodiscard]] bool wait_until_idle(std::chrono::milliseconds limit);
    // Polls until the server has `count` connections open.
    [[nodiscard]] bool wait_for_connections(std::uint64_t count, std::chrono::milliseconds limit);

private:
    void write_line(std::string_view line);
    [[nodiscard]] std::string read_line(std::chrono::milliseconds limit);
    // The next line that starts with `prefix` or "error ", skipping any other.
    [[nodiscard]] std::string read_reply(std::string_view prefix, std::chrono::milliseconds limit);

    std::string kind_;
    child_process child_;
    std::string pending_;       // bytes read past the last complete line
    std::uint16_t port_ = 0;
    bool traced_ = false;
};

}  // namespace wire::bench
