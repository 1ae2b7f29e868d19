#pragma once
// The client's main loop while it sends: progress once a second on stderr until the duration has
// passed, Ctrl+C, or no participant is left; optionally a tick more often (--udp: loss checks).
#include "run_state.h"

#include <chrono>
#include <functional>

namespace wire::client {

using run_clock = std::chrono::steady_clock;

[[nodiscard]] double seconds_between(run_clock::time_point a, run_clock::time_point b) noexcept;

// `tick`, when given, runs every `tick_interval` (and before each progress line).
void watch(run_state& run, run_clock::time_point start, const std::function<void(run_clock::time_point)>& tick = {},
           std::chrono::milliseconds tick_interval = std::chrono::seconds(1));

}  // namespace wire::client
