#include "progress_loop.h"

#include <wire/console_stop.h>

#include "console_output.h"
#include "report.h"

#include <algorithm>

namespace wire::client {

namespace {

constexpr std::chrono::seconds progress_interval{1};

}  // namespace

double seconds_between(run_clock::time_point a, run_clock::time_point b) noexcept {
    return std::chrono::duration<double>(b - a).count();
}

void watch(run_state& run, run_clock::time_point start, const std::function<void(run_clock::time_point)>& tick,
           std::chrono::milliseconds tick_interval) {
    const auto deadline = start + run.opts().duration;
    auto next = start + progress_interval;
    auto next_tick = tick ? start + tick_interval : run_clock::time_point::max();
    auto previous_at = start;
    std::uint64_t previous_messages = 0;
    std::uint64_t previous_bytes = 0;
    std::uint64_t previous_connects = 0;
    for (;;) {
        const auto now = run_clock::now();
        if (now >= deadline || run.participants() == 0) {
            return;
        }
        const auto wake = std::min({deadline, next, next_tick});
        if (wire::wait_for_stop_request(std::chrono::ceil<std::chrono::milliseconds>(wake - now))) {
            return;
        }
        const auto at = run_clock::now();
        if (at >= next_tick) {
            tick(at);
            next_tick = at + tick_interval;
        }
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

}  // namespace wire::client
