#include <wire/console_stop.h>

#include "core/slim_mutex.h"
#include "win/winsock.h"

#include <condition_variable>
#include <mutex>

namespace wire {

namespace {

// The handler runs on a thread the system creates, so the state it shares with main is global.
detail::slim_mutex state_mutex;
std::condition_variable_any state_changed;
bool stop_requested = false;
bool stopped = false;

// Windows terminates the process this long after a close, logoff or shutdown event is
// delivered, whatever the handler does; finishing a little earlier lets the final line out.
constexpr std::chrono::milliseconds close_grace{4500};

void request_stop() {
    {
        const std::lock_guard lock(state_mutex);
        stop_requested = true;
    }
    state_changed.notify_all();
}

BOOL WINAPI on_console_event(DWORD event) noexcept {
    switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        request_stop();
        return TRUE;  // handled: the process keeps running and stops on its own
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT: {
        // Returning ends the process at once, so wait here while main stops gracefully.
        request_stop();
        std::unique_lock lock(state_mutex);
        state_changed.wait_for(lock, close_grace, [] { return stopped; });
        return TRUE;
    }
    default:
        return FALSE;
    }
}

}  // namespace

bool install_console_stop_handler() noexcept { return ::SetConsoleCtrlHandler(&on_console_event, TRUE) != FALSE; }

bool wait_for_stop_request(std::chrono::milliseconds timeout) {
    std::unique_lock lock(state_mutex);
    return state_changed.wait_for(lock, timeout, [] { return stop_requested; });
}

void notify_stopped() {
    {
        const std::lock_guard lock(state_mutex);
        stopped = true;
    }
    state_changed.notify_all();
}

}  // namespace wire
