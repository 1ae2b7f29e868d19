#pragma once
// Turns Ctrl+C, Ctrl+Break and closing the console window into a stop request that the main
// thread waits for, so a console program (server.exe, client.exe, yours) can stop its engine
// gracefully instead of being terminated. One handler per process.
#include <chrono>

namespace wire {

// Registers the console control handler. Call once, before anything worth stopping starts.
// False when Windows refused it: Ctrl+C then ends the process at once, without the final report.
[[nodiscard]] bool install_console_stop_handler() noexcept;

// Waits until a stop is requested or `timeout` passes; true once a stop was requested.
[[nodiscard]] bool wait_for_stop_request(std::chrono::milliseconds timeout);

// Tells a console-close handler that may be waiting that the program has finished stopping:
// Windows ends the process as soon as that handler returns.
void notify_stopped();

}  // namespace wire
