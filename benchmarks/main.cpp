// engine_benchmarks: the engine's echo server against standalone Asio's, scenario by scenario.
//
//   engine_benchmarks.exe [Google Benchmark flags] [--wire_measure=SECONDS] [--wire_warmup=SECONDS]
//                         [--wire_workers=N] [--wire_trace_wineserver]
//   engine_benchmarks.exe --serve engine|asio [--port P] [--workers N]   (the child mode, serve.h)
//
// tools/bench.py runs it under Wine and writes the tables; benchmarks/README.md explains them.
#include "scenarios.h"
#include "serve.h"
#include "win32.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// Winsock for the load driver (the servers start their own in their process).
class winsock_session {
public:
    winsock_session() {
        WSADATA data{};
        ok_ = ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
    }
    ~winsock_session() {
        if (ok_) {
            ::WSACleanup();
        }
    }
    winsock_session(const winsock_session&) = delete;
    winsock_session& operator=(const winsock_session&) = delete;
    [[nodiscard]] bool ok() const noexcept { return ok_; }

private:
    bool ok_ = false;
};

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
        } else if (!parse_flag(arg, "--wire_workers=", s.workers)) {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
}

// "wine-8.0" under Wine, "windows" otherwise: results are only comparable within one platform.
std::string platform_name() {
    if (const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll"); ntdll != nullptr) {
        if (const FARPROC proc = ::GetProcAddress(ntdll, "wine_get_version"); proc != nullptr) {
            // Through void(*)(): the one function-pointer type every other converts to without a warning.
            const auto get_version = reinterpret_cast<const char* (*)()>(reinterpret_cast<void (*)()>(proc));
            return std::string("wine-") + get_version();
        }
    }
    return "windows";
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
    const winsock_session winsock;
    if (!winsock.ok()) {
        std::cerr << "WSAStartup failed\n";
        return 1;
    }

    wire::bench::register_scenarios();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }
    const auto& s = wire::bench::bench_settings();
    benchmark::AddCustomContext("platform", platform_name());
    const unsigned workers = s.workers != 0 ? s.workers : std::max(1U, std::thread::hardware_concurrency());
    benchmark::AddCustomContext("server_workers", std::to_string(workers));
    benchmark::AddCustomContext("warmup_s", std::to_string(s.warmup.count()));
    benchmark::AddCustomContext("measure_s", std::to_string(s.measure.count()));
    benchmark::RunSpecifiedBenchmarks();
    wire::bench::stop_shared_servers();
    benchmark::Shutdown();
    return 0;
}
