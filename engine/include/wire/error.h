#pragma once
// The engine's own error conditions. Winsock and Win32 failures are reported as
// std::error_code in std::system_category() with their Winsock value (e.g. 10054 for a reset);
// these codes cover what is not an operating-system error.
#include <system_error>

namespace wire {

enum class error {
    end_of_stream = 1,  // the peer closed its sending side (FIN); everything it sent was delivered
    aborted,            // closed by connection::abort() on this side
    timed_out,          // connect timeout or graceful-close deadline expired
    engine_stopped,     // the engine stopped (or was destroyed) while the connection was open
    send_queue_full,    // send() refused: the queued bytes are at the cap; wait for on_drained
    not_connected,      // send() on a connection that is closing or closed, or an empty handle
    too_many_connections,  // accepted while max_connections were open: closed at once
    protocol_error,     // for applications: connection::abort(error::protocol_error) on invalid peer data
    idle_timeout,       // closed by the engine: nothing received or sent for engine_options::idle_timeout
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace wire

template <>
struct std::is_error_code_enum<wire::error> : std::true_type {};
