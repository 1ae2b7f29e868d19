// How every benchmark is timed: the server under test runs in a child process (server_process);
// one run opens its connections, lets the load warm up, then measures a fixed window of wall time
// while the same load keeps going. A run is one Google Benchmark iteration with manual time: the
// reported time is the window divided by what completed in it (time per round trip, per message,
// per connection), and rates are counted over the window. Repetitions (--benchmark_repetitions)
// repeat the run; the median is what tools/bench.py reports.
//
// The server's counters are read at both ends of the window and divided by what the server saw
// in it (its received bytes / message size, or its accepted connections): that is the engine's
// calls per message, and for Asio the same figure derived from its handler counts.
#include "scenarios.h"

#include "load_driver.h"
#include "server_process.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace wire::bench {

namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 2> kinds{"engine", "asio"};

unsigned server_workers() {
    const unsigned asked = bench_settings().workers;
    return asked != 0 ? asked : std::max(1U, std::thread::hardware_concurrency());
}

// One long-lived server per kind for the throughput-style families: starting a process per run
// would cost more than many runs measure. Idle memory starts its own (see idle_memory_run).
std::map<std::string, std::unique_ptr<server_process>, std::less<>>& shared_servers() {
    static std::map<std::string, std::unique_ptr<server_process>, std::less<>> servers;
    return servers;
}

server_process& shared_server(std::string_view kind) {
    auto& servers = shared_servers();
    auto it = servers.find(kind);
    if (it == servers.end()) {
        auto server = std::make_unique<server_process>(kind, server_workers(), bench_settings().trace_wineserver);
        it = servers.emplace(std::string(kind), std::move(server)).first;
    }
    return *it->second;
}

// The previous run's connections close asynchronously; a run starts on a quiet server.
void wait_until_quiet(server_process& server) {
    if (!server.wait_until_idle(15s)) {
        throw std::runtime_error("the server still holds connections from the previous run");
    }
}

steady_clock::duration to_clock(std::chrono::duration<double> d) {
    return std::chrono::duration_cast<steady_clock::duration>(d);
}

double seconds_since(steady_clock::time_point start) {
    return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// Server-side calls per unit of work (a message or a connection) over one window.
void add_call_counters(benchmark::State& state, const server_counters& before, const server_counters& after,
                       double units, std::string_view unit) {
    if (units <= 0) {
        return;
    }
    const auto per = [&](std::string_view name) {
        return static_cast<double>(after[name] - before[name]) / units;
    };
    // Asio's figures are derived from handler counts, not counted at the call: say so in the name.
    const std::string prefix = after["calls_estimated"] != 0 ? "est_" : "";
    const std::string suffix = "_per_" + std::string(unit);
    state.counters[prefix + "syscalls" + suffix] = per("receive_calls") + per("send_calls") + per("dequeue_calls");
    state.counters[prefix + "recv_calls" + suffix] = per("receive_calls");
    state.counters[prefix + "send_calls" + suffix] = per("send_calls");
    state.counters[prefix + "dequeues" + suffix] = per("dequeue_calls");
    // Measured the same way for both servers (GetProcessTimes in the server process).
    state.counters["server_cpu_us" + suffix] = per("cpu_us");
    if (prefix.empty()) {
        state.counters["completions_dequeued" + suffix] = per("completions_dequeued");
        state.counters["completions_inline" + suffix] = per("completions_inline");
        // Data callbacks that ran on another worker than the connection's previous one (TCP only).
        if (after["data_callbacks"] != 0) {
            state.counters["worker_switches" + suffix] = per("worker_switches");
        }
    }
}

enum class echo_family { round_trip, throughput, large };

// `per_driver_message`: the TLS rows divide the server's calls by the messages the driver saw
// echoed, since the engine's bytes_received counts the wire's bytes (records, with their headers
// and tags); wire_bytes_per_msg says how many bytes per message the server received.
void echo_run(benchmark::State& state, std::string_view kind, echo_load load, echo_family family,
              bool per_driver_message = false, const std::shared_ptr<net::tls_client>& tls = nullptr) {
    try {
        server_process& server = shared_server(kind);
        wait_until_quiet(server);
        echo_driver driver(server.port(), load, tls);
        driver.start();
        for (auto _ : state) {
            driver.run_until(steady_clock::now() + to_clock(bench_settings().warmup));
            const server_counters before = server.counters();
            const std::uint64_t first = driver.completed();
            driver.clear_latencies();
            const auto start = steady_clock::now();
            driver.run_until(start + to_clock(bench_settings().measure));
            const double seconds = seconds_since(start);
            const std::uint64_t messages = driver.completed() - first;
            const server_counters after = server.counters();
            if (!driver.error().empty() || messages == 0) {
                state.SkipWithError(driver.error().empty() ? "no message was echoed" : driver.error().c_str());
                break;
            }
            state.SetIterationTime(seconds / static_cast<double>(messages));
            state.counters["window_s"] = seconds;
            const double rate = static_cast<double>(messages) / seconds;
            if (family == echo_family::round_trip) {
                state.counters["round_trips_per_s"] = rate;
                std::vector<double> latencies = driver.latencies_us();
                if (!latencies.empty()) {
                    std::sort(latencies.begin(), latencies.end());
                    const auto at = [&](double q) {
                        return latencies[std::min(latencies.size() - 1,
                                                  static_cast<std::size_t>(q * static_cast<double>(latencies.size())))];
                    };
                    state.counters["p50_us"] = at(0.50);
                    state.counters["p99_us"] = at(0.99);
                }
            } else {
                state.counters["msgs_per_s"] = rate;
            }
            // Each echoed payload byte counted once (it crossed the loopback twice).
            state.counters["bytes_per_s"] = benchmark::Counter(rate * static_cast<double>(load.message_size),
                                                               benchmark::Counter::kDefaults,
                                                               benchmark::Counter::kIs1024);
            const auto received = static_cast<double>(after["bytes_received"] - before["bytes_received"]);
            if (per_driver_message) {
                state.counters["wire_bytes_per_msg"] = received / static_cast<double>(messages);
                if (!driver.session().empty()) {
                    state.SetLabel(driver.session());
                }
                add_call_counters(state, before, after, static_cast<double>(messages), "msg");
            } else {
                add_call_counters(state, before, after, received / static_cast<double>(load.message_size), "msg");
            }
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

// UDP echo against the kind's UDP server (serve kind engine_udp or asio_udp). A datagram not
// answered within the driver's loss timeout is counted lost and replaced: loss_pct is the lost share
// of the datagrams settled (answered or given up on) in the window; the rate counts answers only.
void udp_run(benchmark::State& state, std::string_view kind, udp_load load) {
    try {
        server_process& server = shared_server(std::string(kind) + "_udp");
        udp_echo_driver driver(server.port(), load);
        driver.start();
        for (auto _ : state) {
            driver.run_until(steady_clock::now() + to_clock(bench_settings().warmup));
            const server_counters before = server.counters();
            const std::uint64_t first = driver.completed();
            const std::uint64_t first_lost = driver.lost();
            const auto start = steady_clock::now();
            driver.run_until(start + to_clock(bench_settings().measure));
            const double seconds = seconds_since(start);
            const std::uint64_t datagrams = driver.completed() - first;
            const std::uint64_t lost = driver.lost() - first_lost;
            const server_counters after = server.counters();
            if (!driver.error().empty() || datagrams == 0) {
                state.SkipWithError(driver.error().empty() ? "no datagram was echoed" : driver.error().c_str());
                break;
            }
            state.SetIterationTime(seconds / static_cast<double>(datagrams));
            state.counters["window_s"] = seconds;
            const double rate = static_cast<double>(datagrams) / seconds;
            state.counters["msgs_per_s"] = rate;
            state.counters["bytes_per_s"] = benchmark::Counter(rate * static_cast<double>(load.datagram_size),
                                                               benchmark::Counter::kDefaults,
                                                               benchmark::Counter::kIs1024);
            state.counters["loss_pct"] = 100.0 * static_cast<double>(lost) / static_cast<double>(datagrams + lost);
            state.counters["late_replies"] = static_cast<double>(driver.late());
            // Echoes the server itself dropped (the engine's send_to refused: send queue full).
            state.counters["server_sends_refused"] = static_cast<double>(after["sends_refused"] - before["sends_refused"]);
            const double server_datagrams =
                static_cast<double>(after["bytes_received"] - before["bytes_received"]) /
                static_cast<double>(load.datagram_size);
            add_call_counters(state, before, after, server_datagrams, "msg");
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void churn_run(benchmark::State& state, std::string_view kind, unsigned loops, std::size_t message_size) {
    try {
        server_process& server = shared_server(kind);
        wait_until_quiet(server);
        const auto& s = bench_settings();
        const auto limit = std::chrono::ceil<std::chrono::seconds>(s.warmup + s.measure) + 60s;
        churn_driver churn(server.port(), loops, message_size, limit);
        for (auto _ : state) {
            // A timed wait for a window of wall time while the loops run on their own threads.
            std::this_thread::sleep_for(s.warmup);
            const server_counters before = server.counters();
            const std::uint64_t first = churn.completed();
            const auto start = steady_clock::now();
            std::this_thread::sleep_for(s.measure);
            const std::uint64_t connections = churn.completed() - first;
            const double seconds = seconds_since(start);
            const server_counters after = server.counters();
            churn.stop();
            if (const std::string error = churn.error(); !error.empty() || connections == 0) {
                state.SkipWithError(error.empty() ? "no connection completed" : error.c_str());
                break;
            }
            state.SetIterationTime(seconds / static_cast<double>(connections));
            state.counters["conns_per_s"] = static_cast<double>(connections) / seconds;
            add_call_counters(state, before, after,
                              static_cast<double>(after["connections_accepted"] - before["connections_accepted"]),
                              "conn");
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

// Memory per idle connection, in a server process of its own so that nothing else it did
// (other benchmarks' buffers, heap fragmentation) mixes in. A few connections are opened first,
// each exchanging a message, so that one-time costs (first accept, pools, the first send) fall
// before the baseline. Then `idle_connections` more are opened and either stay silent
// (exchanges 0: what an accepted connection costs) or exchange one message before going idle
// (exchanges 1: what a server that allocates lazily, or keeps what it once allocated, holds for
// a client that said hello and went quiet). With `quiet` > 0 the counters are read that long after
// the last exchange: what a connection that was busy and then went quiet costs once the server has
// had time to notice (the engine's adaptive receives give buffers back after receive_park_after).
void idle_memory_run(benchmark::State& state, std::string_view kind, std::size_t idle_connections,
                     std::uint64_t exchanges, std::chrono::milliseconds quiet) {
    constexpr std::size_t warm_connections = 64;
    try {
        server_process server(kind, server_workers(), bench_settings().trace_wineserver);
        const std::uint16_t address = server.port();
        for (auto _ : state) {
            echo_driver warm(address, {.connections = warm_connections, .message_size = 64, .pipeline = 1,
                                       .messages_per_connection = 1});
            warm.start();
            warm.run_until(steady_clock::now() + 30s, warm_connections);
            if (!warm.error().empty() || !server.wait_for_connections(warm_connections, 15s)) {
                state.SkipWithError("the warm-up connections did not all arrive");
                break;
            }
            const server_counters before = server.counters();

            const auto start = steady_clock::now();
            echo_driver idle(address, {.connections = idle_connections, .message_size = 64, .pipeline = 1,
                                       .messages_per_connection = exchanges});
            idle.start();
            const std::uint64_t expected = idle_connections * exchanges;
            const std::uint64_t exchanged = idle.run_until(steady_clock::now() + 60s, expected);
            const bool arrived = server.wait_for_connections(warm_connections + idle_connections, 15s);
            const double seconds = seconds_since(start);
            std::this_thread::sleep_for(quiet);
            if (!idle.error().empty() || exchanged != expected || !arrived) {
                state.SkipWithError(idle.error().empty() ? "the idle connections did not all arrive"
                                                         : idle.error().c_str());
                break;
            }
            const server_counters after = server.counters();
            state.SetIterationTime(seconds / static_cast<double>(idle_connections));  // time to open one
            const auto per_connection = [&](std::string_view name) {
                return (static_cast<double>(after[name]) - static_cast<double>(before[name])) /
                       static_cast<double>(idle_connections);
            };
            state.counters["ws_bytes_per_conn"] = per_connection("working_set");
            state.counters["private_bytes_per_conn"] = per_connection("committed_private");
            if (after["calls_estimated"] == 0) {  // the engine counts what it holds
                state.counters["receive_buffers_held"] = static_cast<double>(after["receive_buffers_held"]);
            }
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

// The registered benchmark's type as RegisterBenchmark returns it: benchmark::internal::Benchmark
// in Debian's 1.7, benchmark::Benchmark in vcpkg's 1.9 (which deprecates the old name: C4996 under /WX).
template <typename Registered>
Registered* configure(Registered* b) {
    // One iteration per run: the run measures a window of wall time itself (see the top).
    // Besides the median, the best repetition: other load on a shared machine only ever makes a
    // run slower, so the best of several is the least disturbed (min for times, max for rates;
    // tools/bench.py picks the one that fits each figure).
    return b->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMicrosecond)
        ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
        ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

// What TLS costs on the engine: the engine's echo server behind wire::tls ("engine-tls": SChannel,
// TLS 1.2 under Wine 10) against the same server without TLS ("engine"), same load, same driver
// with and without its TLS client; the ratio of the two is the row. The handshake happens while
// connecting, outside every window: these rows price the records. Only with a certificate
// (--wire_tls_pfx) and a TLS client (the native driver's OpenSSL).
void register_tls_scenarios() {
    const settings& s = bench_settings();
    if (s.tls_pfx.empty()) {
        return;
    }
    std::string problem;
    std::shared_ptr<net::tls_client> client = net::make_tls_client(problem);
    if (!client) {
        return;  // the Windows build: the native driver runs these rows
    }
    const auto pair = [&client](const std::string& scenario, echo_load load, echo_family family) {
        for (const std::string_view kind : {std::string_view("engine-tls"), std::string_view("engine")}) {
            std::shared_ptr<net::tls_client> tls = kind == "engine-tls" ? client : nullptr;
            configure(benchmark::RegisterBenchmark(("tls/" + scenario + "/" + std::string(kind)).c_str(),
                                                   [kind, load, family, tls](benchmark::State& state) {
                                                       echo_run(state, kind, load, family, true, tls);
                                                   }));
        }
    };
    pair("round_trip/size:64", {.connections = 1, .message_size = 64, .pipeline = 1}, echo_family::round_trip);
    pair("throughput/size:1024/conns:16/pipeline:8", {.connections = 16, .message_size = 1024, .pipeline = 8},
         echo_family::throughput);
    pair("large/size:16384/conns:16/pipeline:4", {.connections = 16, .message_size = 16U * 1024U, .pipeline = 4},
         echo_family::large);
}

}  // namespace

settings& bench_settings() noexcept {
    static settings s;
    return s;
}

void register_scenarios() {
    // Engine and Asio rows of one scenario are registered next to each other, so that they run
    // close in time on a machine whose load drifts.
    const auto both = [](const std::string& scenario, auto run, int repetitions = 0) {
        for (const std::string_view kind : kinds) {
            auto* b = configure(benchmark::RegisterBenchmark((scenario + "/" + std::string(kind)).c_str(),
                                                             [kind, run](benchmark::State& state) { run(state, kind); }));
            if (repetitions > 0) {
                b->Repetitions(repetitions);
            }
        }
    };

    for (const std::size_t size : {64U, 1024U, 16U * 1024U}) {
        both("round_trip/size:" + std::to_string(size), [size](benchmark::State& state, std::string_view kind) {
            echo_run(state, kind, {.connections = 1, .message_size = size, .pipeline = 1}, echo_family::round_trip);
        });
    }
    for (const std::size_t connections : {1U, 16U, 64U, 256U}) {
        both("throughput/size:64/conns:" + std::to_string(connections) + "/pipeline:8",
             [connections](benchmark::State& state, std::string_view kind) {
                 echo_run(state, kind, {.connections = connections, .message_size = 64, .pipeline = 8},
                          echo_family::throughput);
             });
    }
    for (const std::size_t size : {64U * 1024U, 1024U * 1024U}) {
        for (const std::size_t connections : {1U, 16U}) {
            both("large/size:" + std::to_string(size) + "/conns:" + std::to_string(connections),
                 [size, connections](benchmark::State& state, std::string_view kind) {
                     echo_run(state, kind, {.connections = connections, .message_size = size, .pipeline = 1},
                              echo_family::large);
                 });
        }
    }
    // Issue 6's large-message target: 16 KiB messages, 4 in flight on each of 16 connections.
    both("large/size:16384/conns:16/pipeline:4", [](benchmark::State& state, std::string_view kind) {
        echo_run(state, kind, {.connections = 16, .message_size = 16U * 1024U, .pipeline = 4}, echo_family::large);
    });
    for (const std::size_t size : {64U, 1200U}) {
        for (const std::size_t sockets : {1U, 16U}) {
            both("udp_echo/size:" + std::to_string(size) + "/sockets:" + std::to_string(sockets) + "/pipeline:8",
                 [size, sockets](benchmark::State& state, std::string_view kind) {
                     udp_run(state, kind, {.sockets = sockets, .datagram_size = size, .pipeline = 8});
                 });
        }
    }
    both("churn/loops:16/size:64",
         [](benchmark::State& state, std::string_view kind) { churn_run(state, kind, 16, 64); });
    // Memory figures repeat to the byte from run to run, and each run starts a server and opens
    // 1,064 connections: three repetitions are plenty, whatever --benchmark_repetitions says.
    constexpr int memory_repetitions = 3;
    for (const std::uint64_t exchanges : {0U, 1U}) {
        both("idle_memory/conns:1000/exchanges:" + std::to_string(exchanges),
             [exchanges](benchmark::State& state, std::string_view kind) {
                 idle_memory_run(state, kind, 1000, exchanges, 0ms);
             },
             memory_repetitions);
    }
    // Busy (8 exchanges back to back), then quiet for 3 s: longer than the engine's default
    // receive_park_after (1 s) plus its sweep period, so this is the cost of a long-idle connection.
    both("idle_memory/conns:1000/exchanges:8/quiet_ms:3000",
         [](benchmark::State& state, std::string_view kind) { idle_memory_run(state, kind, 1000, 8, 3000ms); },
         memory_repetitions);

    register_tls_scenarios();
}

void stop_shared_servers() noexcept { shared_servers().clear(); }

}  // namespace wire::bench
