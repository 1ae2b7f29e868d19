// server.exe: listens, serves until Ctrl+C, console close or the end of --duration, then stops
// gracefully. The command-line contract is in docs (DESIGN.md, "Front-end contracts") and --help.
#include <wire/console_stop.h>
#include <wire/engine.h>
#include <wire/tls.h>

#include "console_output.h"
#include "datagram_handlers.h"
#include "handler_factory.h"
#include "server_counters.h"
#include "server_options.h"
#include "stats_printer.h"
#include "tls_setup.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <optional>

namespace wire::server {

namespace {

constexpr std::chrono::seconds stats_interval{2};

// Prints statistics every interval until a stop is requested or the duration has passed.
void serve(const std::optional<std::chrono::milliseconds>& duration, stats_printer& stats) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto deadline = duration ? start + *duration : clock::time_point::max();
    auto next_stats = start + stats_interval;
    for (;;) {
        const auto now = clock::now();
        if (now >= deadline) {
            return;
        }
        const auto wake = std::min(deadline, next_stats);
        if (wire::wait_for_stop_request(std::chrono::ceil<std::chrono::milliseconds>(wake - now))) {
            return;
        }
        if (clock::now() >= next_stats) {
            stats.print_periodic();
            next_stats += stats_interval;
        }
    }
}

int run(const options& opts) {
    engine_options settings;
    settings.worker_threads = opts.workers;
    settings.max_connections = opts.max_connections;
    settings.idle_timeout = opts.idle_timeout;

    // --tls: the certificate is loaded before anything listens; a failure ends the run (exit 1).
    std::optional<tls::server_context> tls_context;
    if (opts.tls) {
        tls_context.emplace(make_tls_context(*opts.tls));
    }

    server_counters counters;  // before the engine, so it outlives every handler that counts into it
    settings.on_rejected = [&counters](const endpoint& remote, std::error_code reason) {
        counters.rejections.record_refused(remote, reason);
    };
    engine e(settings);
    listener l;
    datagram_socket udp;
    if (opts.udp) {
        udp = e.open_datagram(opts.address, make_datagram_handler(opts.mode, counters));
    } else if (tls_context) {
        l = tls::listen(e, opts.address, count_handshakes(make_handler_factory(opts, counters), counters), *tls_context);
    } else {
        l = e.listen(opts.address, make_handler_factory(opts, counters));
    }
    // The contract's readiness line: the real port, flushed at once (whoever waits for it reads a pipe).
    print_stdout_line("listening on " + (opts.udp ? udp.local_endpoint() : l.local_endpoint()).to_string());

    stats_printer stats(e, counters, tls_context.has_value());
    serve(opts.duration, stats);

    l.close();
    udp.close();
    e.stop();  // graceful for stop_timeout, then abortive; every completion drained
    stats.print_final();
    return 0;
}

}  // namespace

}  // namespace wire::server

int main(int argc, char* argv[]) {
    using namespace wire::server;
    const parse_result parsed = parse_options(argc, argv, std::cout, std::cerr);
    if (!parsed.value) {
        return parsed.exit_code;
    }
    if (!wire::install_console_stop_handler()) {
        std::cerr << "server: warning: no console control handler; Ctrl+C will end the server "
                     "without its final report\n";
    }
    int code = 1;
    try {
        code = run(*parsed.value);
    } catch (const std::exception& e) {
        // Set-up failures only (the engine never throws on its I/O path): e.g. the port is taken,
        // or the --tls certificate cannot be loaded.
        std::cerr << "server: " << e.what() << std::endl;
    }
    wire::notify_stopped();
    return code;
}
