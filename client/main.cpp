// client.exe: connects, keeps messages in flight for --duration, verifies every byte that comes
// back, then reports throughput and latency. The contract is in --help and DESIGN.md.
#include <wire/console_stop.h>
#include <wire/engine.h>

#include "churn_loop.h"
#include "client_options.h"
#include "console_output.h"
#include "datagram_run.h"
#include "progress_loop.h"
#include "pipelined_session.h"
#include "report.h"
#include "run_state.h"
#include "tls_setup.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

namespace wire::client {

namespace {

using clock = run_clock;

// After --duration, how long replies still in flight (and graceful closes) may take before the
// engine is stopped and whatever is left counts as errors.
constexpr std::chrono::seconds drain_limit{10};

// A TLS record's header and trailer at most (5-byte header, explicit nonce or IV, MAC or tag,
// padding): what --tls adds to the send queue per record, rounded up.
constexpr std::size_t tls_record_overhead = 128;

int run(const options& opts) {
    if (opts.udp) {
        return run_udp(opts);
    }
    // --tls: the context (and --ca) before anything connects; a failure ends the run (exit 1).
    std::optional<tls::client_context> tls_context;
    if (opts.tls) {
        tls_context.emplace(make_tls_context(*opts.tls));
    }

    engine_options settings;
    // Churn: a closing connection still holds its slot while the loop's next one connects.
    settings.max_connections = opts.connections * 2 + 16;
    // Room for a whole pipeline, so a full window of messages is never refused for lack of space.
    // TLS queues records: each message may add a record's header and trailer per 16 KiB and one more.
    const std::size_t record_overhead = opts.tls ? (opts.size / (16 * 1024) + 2) * tls_record_overhead : 0;
    settings.send_queue_cap = std::max(settings.send_queue_cap, opts.pipeline * (opts.size + 4 + record_overhead));

    engine e(settings);
    run_state run(opts, e, tls_context ? &*tls_context : nullptr);
    std::vector<std::shared_ptr<pipelined_session>> sessions;  // destroyed before run and e

    const auto start = clock::now();
    for (std::size_t i = 0; i < opts.connections; ++i) {
        run.participant_started();
        if (opts.mode == mode::churn) {
            std::make_shared<churn_loop>(run, i)->next();  // its connections keep the loop alive
            continue;
        }
        auto session = std::make_shared<pipelined_session>(run, i);
        try {
            session->attach(run.connect(pipelined_session::make_handler(session)));
            sessions.push_back(std::move(session));
        } catch (const std::exception& ex) {
            run.report_error("connection " + std::to_string(i) + ": cannot start: " + ex.what());
            run.participant_finished();
        }
    }

    watch(run, start);
    run.begin_stopping();
    for (const auto& s : sessions) {
        s->finish();
    }
    if (!run.wait_all_finished(drain_limit)) {
        print_stderr_line("client: " + std::to_string(run.participants()) +
                              " connections still busy after the drain limit; stopping them");
    }
    const auto end = clock::now();
    e.stop();  // closes what is left: each counts its missing replies as errors

    run_result result = collect(run.counters(), run.latency(), seconds_between(start, end));
    if (const std::optional<tls::session_info> session = run.session()) {
        result.tls_protocol = session->protocol;
        result.tls_cipher = session->cipher;
        result.tls_alpn = session->alpn;
    }
    return conclude(opts, result);
}

}  // namespace

}  // namespace wire::client

int main(int argc, char* argv[]) {
    using namespace wire::client;
    const parse_result parsed = parse_options(argc, argv, std::cout, std::cerr);
    if (!parsed.value) {
        return parsed.exit_code;
    }
    if (!wire::install_console_stop_handler()) {
        std::cerr << "client: warning: no console control handler; Ctrl+C will end the client "
                     "without its final report\n";
    }
    int code = 1;
    try {
        code = run(*parsed.value);
    } catch (const std::exception& e) {
        std::cerr << "client: " << e.what() << std::endl;
    }
    wire::notify_stopped();
    return code;
}
