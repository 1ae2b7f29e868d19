#include "serve.h"

#include "echo_server.h"
#include "process_usage.h"
#include "win32.h"

#include <charconv>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

namespace wire::bench {

namespace {

struct serve_arguments {
    std::string_view kind;
    std::uint16_t port = 0;
    unsigned workers = 1;
    bool markers = false;
    std::string pfx;       // engine-tls: the certificate and key (PKCS#12)
    std::string password;  // and its password
};

// WIRE_BENCH_TLS_PFX / WIRE_BENCH_TLS_PASSWORD: the defaults of --pfx and --password.
std::string environment(const char* name) {
    char value[1024] = {};
    const DWORD length = ::GetEnvironmentVariableA(name, value, sizeof(value));
    return length > 0 && length < sizeof(value) ? std::string(value, length) : std::string();
}

template <typename Number>
bool parse_number(std::string_view text, Number& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

std::optional<serve_arguments> parse(const std::vector<std::string_view>& args, std::string& problem) {
    serve_arguments parsed;
    parsed.pfx = environment("WIRE_BENCH_TLS_PFX");
    parsed.password = environment("WIRE_BENCH_TLS_PASSWORD");
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view flag = args[i];
        if (i + 1 >= args.size()) {
            problem = "missing value after " + std::string(flag);
            return std::nullopt;
        }
        const std::string_view value = args[++i];
        bool ok = true;
        if (flag == "--serve") {
            parsed.kind = value;
            ok = value == "engine" || value == "asio" || value == "engine_udp" || value == "asio_udp" ||
                 value == "engine-tls";
        } else if (flag == "--port") {
            ok = parse_number(value, parsed.port);
        } else if (flag == "--workers") {
            ok = parse_number(value, parsed.workers) && parsed.workers > 0;
        } else if (flag == "--pfx") {
            parsed.pfx = value;
        } else if (flag == "--password") {
            parsed.password = value;
        } else if (flag == "--markers") {
            ok = value == "0" || value == "1";
            parsed.markers = value == "1";
        } else {
            ok = false;
        }
        if (!ok) {
            problem = "bad argument " + std::string(flag) + " " + std::string(value);
            return std::nullopt;
        }
    }
    if (parsed.kind == "engine-tls" && parsed.pfx.empty()) {
        problem = "engine-tls needs a certificate: --pfx PATH [--password PASSWORD] (or WIRE_BENCH_TLS_PFX)";
        return std::nullopt;
    }
    return parsed;
}

void print_counters(std::string_view prefix, const echo_server& server) {
    std::string line(prefix);
    for (const auto& [name, value] : server.counters()) {
        line += ' ' + name + '=' + std::to_string(value);
    }
    const memory_usage memory = current_memory_usage();
    line += " working_set=" + std::to_string(memory.working_set);
    line += " private_usage=" + std::to_string(memory.private_usage);
    line += " committed_private=" + std::to_string(memory.committed_private);
    line += " cpu_us=" + std::to_string(cpu_time_us());
    std::cout << line << std::endl;  // flushed: the driver waits for this line
}

// Leaves the server's counters in a wineserver request trace (WINEDEBUG=+server logs the name
// of every object created), so that tools/wineserver_profile.py can cut the trace at the
// benchmark's stats requests and divide the requests in between by the messages served.
void leave_trace_marker(const echo_server& server) {
    std::wstring name = L"wire_bench_marker";
    for (const auto& [key, value] : server.counters()) {
        if (key == "bytes_received" || key == "connections_accepted") {
            name += L' ' + std::wstring(key.begin(), key.end()) + L'=' + std::to_wstring(value);
        }
    }
    if (HANDLE marker = ::CreateEventW(nullptr, FALSE, FALSE, name.c_str()); marker != nullptr) {
        ::CloseHandle(marker);
    }
}

}  // namespace

std::optional<int> serve_if_asked(const std::vector<std::string_view>& args) {
    if (args.size() < 2 || args[1] != "--serve") {
        return std::nullopt;
    }
    std::string problem;
    const auto parsed = parse(args, problem);
    if (!parsed) {
        std::cout << "error " << problem << std::endl;
        std::cerr << "usage: " << args[0]
                  << " --serve engine|asio|engine_udp|asio_udp|engine-tls [--port P] [--workers N] [--markers 0|1]"
                     " [--pfx PATH] [--password PASSWORD]\n";
        return 2;
    }
    std::unique_ptr<echo_server> server;
    try {
        const std::string_view kind = parsed->kind;
        const std::uint16_t port = parsed->port;
        const unsigned workers = parsed->workers;
        server = kind == "engine"       ? make_engine_echo_server(port, workers)
                 : kind == "asio"       ? make_asio_echo_server(port, workers)
                 : kind == "engine_udp" ? make_engine_udp_echo_server(port, workers)
                 : kind == "engine-tls" ? make_engine_tls_echo_server(port, workers, parsed->pfx, parsed->password)
                                        : make_asio_udp_echo_server(port, workers);
    } catch (const std::exception& e) {
        std::cout << "error " << e.what() << std::endl;
        return 1;
    }
    std::cout << "listening on 127.0.0.1:" << server->port() << std::endl;

    std::string command;
    while (std::getline(std::cin, command)) {
        if (!command.empty() && command.back() == '\r') {
            command.pop_back();
        }
        if (command == "stats") {
            if (parsed->markers) {
                leave_trace_marker(*server);
            }
            print_counters("stats", *server);
        } else if (command == "quit") {
            break;
        } else {
            std::cout << "error unknown command " << command << std::endl;
        }
    }
    server->stop();
    print_counters("final", *server);
    return 0;
}

}  // namespace wire::bench
