// client.exe: connects, keeps messages in flight for --duration, verifies every byte that comes
// back, then reports throughput and latency. The contract is in --help and DESIGN.md.
#include <wire/console_stop.h>
#include <wire/engine.h>

#include "churn_loop.h"
#include "client_options.h"
#include "console_output.h"
#include "datagram_run.h"
#include "pipelined_session.h"
#include "report.h"
#include "run_state.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <vector>

namespace wire::client {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::chrono::seconds progress_interval{1};
// After --duration, how long replies still in flight (and graceful closes) may take before the
// engine is stopped and whatever is left counts as errors.
constexpr std::chrono::seconds drain_limit{10};

double seconds_between(clock::time_point a, clock::time_point b) noexcept {
    return std::chrono::duration<double>(b - a).count();
}

// Prints progress once a second until the duration has passed, Ctrl+C, or nothing is left running.
void watch(run_state& run, clock::time_point start) {
    const auto deadline = start + run.opts().duration;
    auto next = start + progress_interval;
    auto previous_at = start;
    std::uint64_t previous_messages = 0;
    std::uint64_t previous_bytes = 0;
    std::uint64_t previous_connects = 0;
    for (;;) {
        const auto now = clock::now();
        if (now >= deadline || run.participants() == 0) {
            return;
        }
        if (wire::wait_for_stop_request(std::chrono::ceil<std::chrono::milliseconds>(std::min(deadline, next) - now))) {
            return;
        }
        const auto at = clock::now();
        if (at < next) {
            continue;
        }
        const run_counters& c = run.counters();
        const std::uint64_t messages = c.messages.load(std::memory_order_relaxed);
        const std::uint64_t bytes = c.payload_bytes.load(std::memory_order_relaxed);
        const std::uint64_t connects = c.connects.load(std::memory_order_relaxed);
        print_stderr_line(progress_line(
            run.opts(), {seconds_between(start, at), seconds_between(previous_at, at), run.participants(),
                         messages - previous_messages, bytes - previous_bytes, connects - previous_connects,
                         c.errors.load(std::memory_order_relaxed), c.mismatches.load(std::memory_order_relaxed)}));
        previous_at = at;
        previous_messages = messages;
        previous_bytes = bytes;
        previous_connects = connects;
        next += progress_interval;
    }
}

int run(const options& opts) {
    if (opts.udp) {
        return run_udp(opts);
    }
    engine_options settings;
    // Churn: a closing connection still holds its slot while the loop's next one connects.
    settings.max_connections = opts.connections * 2 + 16;
    // Room for a whole pipeline, so a full window of messages is never refused for lack of space.
    settings.send_queue_cap = std::max(settings.send_queue_cap, opts.pipeline * (opts.size + 4));

    engine e(settings);
    run_state run(opts, e);
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
            session->attach(e.connect(opts.server, pipelined_session::make_handler(session)));
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

    const run_counters& c = run.counters();
    const latency_histogram& latency = run.latency();
    run_result result;
    result.seconds = seconds_between(start, end);
    result.messages = c.messages.load();
    result.payload_bytes = c.payload_bytes.load();
    result.errors = c.errors.load();
    result.mismatches = c.mismatches.load();
    result.connects = c.connects.load();
    result.p50_us = latency.percentile_us(0.50);
    result.p99_us = latency.percentile_us(0.99);
    result.p999_us = latency.percentile_us(0.999);
    result.max_us = latency.max_us();

    print_stdout(opts.json ? json_line(opts, result) + "\n" : summary_table(opts, result));
    if (result.messages == 0) {
        print_stderr_line("client: no message completed a round trip");
        return 1;
    }
    return result.errors == 0 && result.mismatches == 0 ? 0 : 1;
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
