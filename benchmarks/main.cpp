// The load driver: the engine's echo server against standalone Asio's, scenario by scenario.
// Built twice from the same sources: engine_benchmarks.exe (Windows; also the servers) and
// bench_driver (Linux-native, benchmarks/native), which starts the servers under wine.
//
//   DRIVER [Google Benchmark flags] [--wire_measure=SECONDS] [--wire_warmup=SECONDS]
//          [--wire_workers=N] [--wire_trace_wineserver] [--wire_server=PATH] [--wire_launcher=PROGRAM]
//          [--wire_tls_pfx=PATH --wire_tls_password=PASSWORD]
//   engine_benchmarks.exe --serve engine|asio|engine-tls [--port P] [--workers N]   (the child mode, serve.h)
//
// --wire_server: the program that serves (default: this one); --wire_launcher: what runs it, one
// word per flag, in order (`wine` for the Linux-native driver; `taskset`, `-c`, `1`, `wine` to pin);
// --wire_tls_pfx: the certificate (PKCS#12) of the TLS rows' server, which the driver registers only
// with it and only when it has a TLS client (the native driver). tools/bench.py runs it and writes the tables;
// benchmarks/README.md explains them.
#include "child_process.h"
#include "net.h"
#include "scenarios.h"
#include "serve.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

template <typename Number>
bool parse_flag(std::string_view arg, std::string_view name, Number& out) {
    if (arg.rfind(name, 0) != 0) {
        return false;
    }
    const std::string_view value = arg.substr(name.size());
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size()) {
        throw std::invalid_argument("bad value in " + std::string(arg));
    }
    return true;
}

// Takes this program's own flags out of argv so that Google Benchmark sees only its own.
void take_own_flags(int& argc, char** argv) {
    auto& s = wire::bench::bench_settings();
    std::string server;
    std::vector<std::string> launcher;  // one word per --wire_launcher, in order: e.g. taskset -c 1 wine
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        double seconds = 0;
        if (parse_flag(arg, "--wire_measure=", seconds)) {
            s.measure = std::chrono::duration<double>(seconds);
        } else if (parse_flag(arg, "--wire_warmup=", seconds)) {
            s.warmup = std::chrono::duration<double>(seconds);
        } else if (arg == "--wire_trace_wineserver") {
            s.trace_wineserver = true;
        } else if (arg.rfind("--wire_server=", 0) == 0) {
            server = arg.substr(std::string_view("--wire_server=").size());
        } else if (arg.rfind("--wire_tls_pfx=", 0) == 0) {
            s.tls_pfx = arg.substr(std::string_view("--wire_tls_pfx=").size());
        } else if (arg.rfind("--wire_tls_password=", 0) == 0) {
            s.tls_password = arg.substr(std::string_view("--wire_tls_password=").size());
        } else if (arg.rfind("--wire_launcher=", 0) == 0) {
            launcher.emplace_back(arg.substr(std::string_view("--wire_launcher=").size()));
        } else if (!parse_flag(arg, "--wire_workers=", s.workers)) {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    s.server_command = std::move(launcher);
    s.server_command.push_back(server.empty() ? wire::bench::this_executable() : server);
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv, argv + argc);
    if (const auto code = wire::bench::serve_if_asked(args)) {
        return *code;
    }
    try {
        take_own_flags(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
    const wire::bench::net::session network;
    if (!network.ok()) {
        std::cerr << "the socket library did not start (WSAStartup)\n";
        return 1;
    }

    wire::bench::register_scenarios();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }
    const auto& s = wire::bench::bench_settings();
    // The driver's platform; the servers run under Wine whenever the driver is not on Windows.
    benchmark::AddCustomContext("platform", wire::bench::net::platform_name());
    std::string server_command;
    for (const std::string& part : s.server_command) {
        server_command += (server_command.empty() ? "" : " ") + part;
    }
    benchmark::AddCustomContext("server_command", server_command);
    const unsigned workers = s.workers != 0 ? s.workers : std::max(1U, std::thread::hardware_concurrency());
    benchmark::AddCustomContext("server_workers", std::to_string(workers));
    benchmark::AddCustomContext("warmup_s", std::to_string(s.warmup.count()));
    benchmark::AddCustomContext("measure_s", std::to_string(s.measure.count()));
    benchmark::RunSpecifiedBenchmarks();
    wire::bench::stop_shared_servers();
    benchmark::Shutdown();
    return 0;
}
