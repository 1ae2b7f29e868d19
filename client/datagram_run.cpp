#include "datagram_run.h"

#include <wire/console_stop.h>
#include <wire/engine.h>

#include "datagram_session.h"
#include "progress_loop.h"
#include "report.h"
#include "run_state.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace wire::client {

namespace {

// How often unanswered datagrams are checked against the loss timeout.
constexpr std::chrono::milliseconds expiry_tick{100};

// After the sending: replies still in flight may arrive until the loss timeout; the rest is lost.
void drain(const std::vector<std::shared_ptr<datagram_session>>& sessions) {
    const auto limit = run_clock::now() + datagram_session::loss_timeout;
    while (run_clock::now() < limit) {
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
    engine e;
    run_state run(opts, e);
    std::vector<std::shared_ptr<datagram_session>> sessions;  // destroyed before run and e

    datagram_options socket_options;
    // Room for a whole window, so a datagram of the pipeline is never refused for lack of space.
    socket_options.send_queue_cap = std::max(socket_options.send_queue_cap, opts.pipeline * opts.size);
    // Replies are --size bytes: a larger datagram is reported truncated (a mismatch), never read whole.
    socket_options.max_datagram_size = opts.size;
    // One receive per datagram in flight, at most 4: enough to keep up with a window, without a
    // buffer per datagram for thousands of sockets.
    socket_options.pending_receives = static_cast<unsigned>(std::clamp<std::size_t>(opts.pipeline, 1, 4));
    const endpoint local = opts.server.is_v6() ? endpoint::any_v6(0) : endpoint::any_v4(0);

    const auto start = run_clock::now();
    for (std::size_t i = 0; i < opts.connections; ++i) {
        auto session = std::make_shared<datagram_session>(run, i);
        try {
            session->start(e.open_datagram(local, datagram_session::make_handler(session), socket_options));
            run.participant_started();  // a socket takes part until the end of the run
            sessions.push_back(std::move(session));
        } catch (const std::exception& ex) {
            run.report_error("socket " + std::to_string(i) + ": cannot open: " + ex.what());
        }
    }

    watch(run, start, [&sessions](run_clock::time_point now) {
        for (const auto& s : sessions) {
            s->expire(now);
        }
    }, expiry_tick);
    run.begin_stopping();
    drain(sessions);
    const auto end = run_clock::now();
    e.stop();

    run_result result = collect(run.counters(), run.latency(), seconds_between(start, end));
    for (const auto& s : sessions) {
        result.lost += s->lost();
    }
    return conclude(opts, result);
}

}  // namespace wire::client
