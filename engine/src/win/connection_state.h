#pragma once
// The life of a connection as one explicit state, and the only transitions it may make.
//
//   connecting ──► open ──► closing ──► shutdown_sent ──► closed ──► finalized
//        │           │         │                            ▲
//        └───────────┴─────────┴────────────────────────────┘   (abort, failure, or both FINs)
//
// closed: the socket is given up (outstanding operations are cancelled and drain); finalized:
// on_close has run and nothing else happens. Entry points assert the transition they make, so a
// path that tries an impossible one is caught in debug builds.
#include <cassert>
#include <cstdint>

namespace wire::detail {

enum class connection_state : std::uint8_t {
    connecting,     // ConnectEx outstanding, or an accepted socket not yet handed over
    open,           // data flows both ways
    closing,        // close asked for, or the peer's FIN seen: flushing the send queue
    shutdown_sent,  // our FIN left; waiting for the peer's (or the close deadline)
    closed,         // socket given up: cancelled operations drain, then finalize
    finalized,      // on_close ran; no callback follows
};

[[nodiscard]] constexpr bool may_transition(connection_state from, connection_state to) noexcept {
    using s = connection_state;
    switch (from) {
    case s::connecting:
        return to == s::open || to == s::closed;
    case s::open:
        return to == s::closing || to == s::closed;
    case s::closing:
        return to == s::shutdown_sent || to == s::closed;
    case s::shutdown_sent:
        return to == s::closed;
    case s::closed:
        return to == s::finalized;
    case s::finalized:
        return false;
    }
    return false;
}

// Data may still arrive: the receive path keeps a receive outstanding in these states.
[[nodiscard]] constexpr bool is_readable(connection_state s) noexcept {
    return s == connection_state::open || s == connection_state::closing || s == connection_state::shutdown_sent;
}

// Queued bytes may still leave.
[[nodiscard]] constexpr bool is_writable(connection_state s) noexcept {
    return s == connection_state::open || s == connection_state::closing;
}

}  // namespace wire::detail
