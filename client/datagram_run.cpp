#include "datagram_run.h"

#include <wire/console_stop.h>
#include <wire/engine.h>

#include "console_output.h"
#include "datagram_session.h"
#include "report.h"
#include "run_state.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace wire::client {

namespace {

using clock = std::chrono::steady_clock;

// How often unanswered datagrams are checked against the loss timeout.
constexpr std::chrono::milliseconds expiry_tick{100};
constexpr std::chrono::seconds progress_interval{1};

double seconds_between(clock::time_point a, clock::time_point b) noexcept {
    return std::chrono::duration<double>(b - a).count();
}

void expire_all(const std::vector<std::shared_ptr<datagram_session>>& sessions, clock::time_point now) {
    for (const auto& s : sessions) {
        s->expire(now);
    }
}

// Sends until the duration has passed or Ctrl+C, checking for losses and printing progress.
void drive(run_state& run, const std::vector<std::shared_ptr<datagram_session>>& sessions, clock::time_point start) {
    const auto deadline = start + run.opts().duration;
    auto next_progress = start + progress_interval;
    auto previous_at = start;
    std::uint64_t previous_messages = 0;
    std::uint64_t previous_bytes = 0;
    for (;;) {
        const auto now = clock::now();
        if (now >= deadline) {
            return;
        }
        const auto wait = std::min(deadline - now, std::chrono::duration_cast<clock::duration>(expiry_tick));
        if (wire::wait_for_stop_request(std::chrono::ceil<std::chrono::milliseconds>(wait))) {
            return;
        }
        const auto at = clock::now();
        expire_all(sessions, at);
        if (at < next_progress) {
            continue;
        }
        const run_counters& c = run.counters();
        const std::uint64_t messages = c.messages.load(std::memory_order_relaxed);
        const std::uint64_t bytes = c.payload_bytes.load(std::memory_order_relaxed);
        print_stderr_line(progress_line(run.opts(), {seconds_between(start, at), seconds_between(previous_at, at),
                                                     sessions.size(), messages - previous_messages,
                                                     bytes - previous_bytes, 0, c.errors.load(std::memory_order_relaxed),
                                                     c.mismatches.load(std::memory_order_relaxed)}));
        previous_at = at;
        previous_messages = messages;
        previous_bytes = bytes;
        next_progress += progress_interval;
    }
}

// After the sending: replies still in flight may arrive until the loss timeout; the rest is lost.
void drain(const std::vector<std::shared_ptr<datagram_session>>& sessions) {
    const auto limit = clock::now() + datagram_session::loss_timeout;
    while (clock::now() < limit) {
        if (std::all_of(sessions.begin(), sessions.end(), [](const auto& s) { return s->idle(); })) {
            return;
        }
        if (wire::wait_for_stop_request(std::chrono::milliseconds(10))) {
            break;  // a second Ctrl+C: report now
        }
    }
    for (const auto& s : sessions) {
        s->abandon();
    }
}

}  // namespace

int run_udp(const options& opts) {
    engine_options settings;
    engine e(settings);
    run_state run(opts, e);
    std::vector<std::shared_ptr<datagram_session>> sessions;  // destroyed before run and e

    datagram_options socket_options;
    // Room for a whole window, so a datagram of the pipeline is never refused for lack of space.
    socket_options.send_queue_cap = std::max(socket_options.send_queue_cap, opts.pipeline * opts.size);
    socket_options.max_datagram_size = std::max<std::size_t>(opts.size, 1);
    socket_options.pending_receives = static_cast<unsigned>(std::clamp<std::size_t>(opts.pipeline, 1, 8));
    const endpoint local = opts.server.is_v6() ? endpoint::any_v6(0) : endpoint::any_v4(0);

    const auto start = clock::now();
    for (std::size_t i = 0; i < opts.connections; ++i) {
        auto session = std::make_shared<datagram_session>(run, i);
        try {
            // max_datagram_size = --size: a larger reply is reported truncated (a mismatch).
            session->start(e.open_datagram(local, datagram_session::make_handler(session), socket_options));
            sessions.push_back(std::move(session));
        } catch (const std::exception& ex) {
            run.report_error("socket " + std::to_string(i) + ": cannot open: " + ex.what());
        }
    }

    drive(run, sessions, start);
    run.begin_stopping();
    drain(sessions);
    const auto end = clock::now();
    e.stop();

    const run_counters& c = run.counters();
    const latency_histogram& latency = run.latency();
    run_result result;
    result.seconds = seconds_between(start, end);
    result.messages = c.messages.load();
    result.payload_bytes = c.payload_bytes.load();
    result.errors = c.errors.load();
    result.mismatches = c.mismatches.load();
    for (const auto& s : sessions) {
        result.lost += s->lost();
    }
    result.p50_us = latency.percentile_us(0.50);
    result.p99_us = latency.percentile_us(0.99);
    result.p999_us = latency.percentile_us(0.999);
    result.max_us = latency.max_us();

    print_stdout(opts.json ? json_line(opts, result) + "\n" : summary_table(opts, result));
    if (result.messages == 0) {
        print_stderr_line("client: no datagram completed a round trip");
        return 1;
    }
    return result.errors == 0 && result.mismatches == 0 ? 0 : 1;
}

}  // namespace wire::client
