#pragma once
// The benchmark families, each registered twice (engine and Asio server) with identical work.
#include <chrono>
#include <string>
#include <vector>

namespace wire::bench {

struct settings {
    std::chrono::duration<double> warmup{0.25};   // load runs this long before a window opens
    std::chrono::duration<double> measure{1.0};   // the measured window of each run
    unsigned workers = 0;                         // server threads for both servers (0: one per CPU)
    bool trace_wineserver = false;                // servers log their wineserver requests (server_process.h)
    // How to start a server: the program (and its launcher) before "--serve KIND ...". The Windows
    // build starts itself; the Linux-native driver `wine build/.../engine_benchmarks.exe`.
    std::vector<std::string> server_command;
    // The TLS rows (tls/...: the engine's echo server behind wire::tls, `--serve engine-tls`, against
    // the plain one): registered only when a certificate is given and the driver has a TLS client
    // (the Linux-native one). A PKCS#12 file the server can open (under Wine: its Unix path) and its password.
    std::string tls_pfx;
    std::string tls_password;
};

// Read by the benchmarks when they run; main() fills it from the command line first.
[[nodiscard]] settings& bench_settings() noexcept;

void register_scenarios();

// Stops the servers that the benchmarks shared (one per kind); call after the last benchmark.
void stop_shared_servers() noexcept;

}  // namespace wire::bench
