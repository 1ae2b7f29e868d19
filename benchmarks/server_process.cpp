#include "server_process.h"

#include "scenarios.h"

#include <algorithm>
#include <charconv>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace wire::bench {

namespace {

using namespace std::chrono_literals;

std::map<std::string, std::uint64_t, std::less<>> parse_pairs(std::string_view text) {
    std::map<std::string, std::uint64_t, std::less<>> values;
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        const std::string_view pair = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
        const std::size_t equals = pair.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        std::uint64_t value = 0;
        const std::string_view digits = pair.substr(equals + 1);
        if (std::from_chars(digits.data(), digits.data() + digits.size(), value).ec == std::errc()) {
            values.emplace(pair.substr(0, equals), value);
        }
    }
    return values;
}

std::vector<std::string> serve_command(std::string_view kind, unsigned workers, bool traced) {
    std::vector<std::string> command = bench_settings().server_command;
    if (command.empty()) {
        throw std::runtime_error("no server to start (--wire_server=PATH)");
    }
    command.insert(command.end(), {"--serve", std::string(kind), "--port", "0", "--workers", std::to_string(workers)});
    if (traced) {
        command.insert(command.end(), {"--markers", "1"});
    }
    if (kind.ends_with("-tls")) {
        const settings& s = bench_settings();
        command.insert(command.end(), {"--pfx", s.tls_pfx, "--password", s.tls_password});
    }
    return command;
}

}  // namespace

std::uint64_t server_counters::operator[](std::string_view name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? 0 : it->second;
}

server_process::server_process(std::string_view kind, unsigned workers, bool trace_wineserver)
    : kind_(kind),
      child_(serve_command(kind, workers, trace_wineserver),
             trace_wineserver ? std::vector<std::string>{"WINEDEBUG=+server"} : std::vector<std::string>{}),
      traced_(trace_wineserver) {
    constexpr std::string_view ready = "listening on 127.0.0.1:";
    const std::string line = read_reply(ready, 30s);
    if (line.rfind(ready, 0) != 0) {
        throw std::runtime_error("the " + kind_ + " server did not start: " + line);
    }
    const std::string_view digits = std::string_view(line).substr(ready.size());
    if (std::from_chars(digits.data(), digits.data() + digits.size(), port_).ec != std::errc() || port_ == 0) {
        throw std::runtime_error("the " + kind_ + " server printed no port: " + line);
    }
}

server_process::~server_process() {
    try {
        write_line("quit");
        if (traced_) {
            std::cerr << "[" << kind_ << " server] " << read_reply("final ", 15s) << std::endl;
        }
    } catch (const std::exception&) {
        // the server is gone already (or silent): child_process bounds the wait either way
    }
}

server_counters server_process::counters() {
    write_line("stats");
    constexpr std::string_view prefix = "stats ";
    const std::string line = read_reply(prefix, 30s);
    if (line.rfind(prefix, 0) != 0) {
        throw std::runtime_error("the " + kind_ + " server answered: " + line);
    }
    return server_counters(parse_pairs(std::string_view(line).substr(prefix.size())));
}

bool server_process::wait_until_idle(std::chrono::milliseconds limit) { return wait_for_connections(0, limit); }

bool server_process::wait_for_connections(std::uint64_t count, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (counters()["connections_open"] == count) {
            return true;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);  // a polling interval between requests, not an I/O wait
    }
}

void server_process::write_line(std::string_view line) {
    std::string data(line);
    data += '\n';
    child_.write(data);
}

// The server's stderr shares the pipe, and Wine writes its own diagnostics there (with
// WINEDEBUG=+server even "wine32 is missing" comes before anything the server says): lines that
// are neither the reply nor an error are skipped, within the same deadline.
std::string server_process::read_reply(std::string_view prefix, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        std::string line = read_line(std::max(left, std::chrono::milliseconds(0)));
        if (line.rfind(prefix, 0) == 0 || line.rfind("error ", 0) == 0) {
            return line;
        }
    }
}

std::string server_process::read_line(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (const std::size_t end = pending_.find('\n'); end != std::string::npos) {
            std::string line = pending_.substr(0, end);
            pending_.erase(0, end + 1);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return line;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now > deadline) {
            throw std::runtime_error("the " + kind_ + " server did not answer in time");
        }
        if (!child_.read_some(pending_, std::chrono::ceil<std::chrono::milliseconds>(deadline - now))) {
            throw std::runtime_error("the " + kind_ + " server exited: " + pending_);
        }
    }
}

}  // namespace wire::bench
