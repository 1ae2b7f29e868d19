#pragma once
// The seam for a protocol layer between the application and a connection's socket (wire::tls is
// built on it): the layer sees the bytes as they travel on the wire, the application sees its own.
#include <wire/connection.h>

#include <gsl/span>

#include <cstddef>
#include <system_error>

namespace wire {

// A handler that also stands in for the connection's send and close.
// - Given to engine::connect or returned by a listener's factory like any handler, it receives the
//   connection's events with the wire's bytes and passes the application's events on to the
//   handler it wraps (on its strand, so the rules of connection.h hold for that handler too).
// - While the connection is open, connection::send and connection::close, called on any handle of
//   it, go to the layer; the layer reaches the socket through the unlayered calls below. Once the
//   connection is closing they behave as on any connection (send reports not_connected).
// - The engine finds the layer once, when the connection is made (a dynamic_cast of its
//   handler), and keeps the handler alive until after on_close, as for every handler.
class connection_layer : public connection_handler {
public:
    // connection::send, on any thread: must not block or throw; returns what send() returns.
    [[nodiscard]] virtual std::error_code send(const connection& conn, gsl::span<const std::byte> data) noexcept = 0;
    // connection::close: says goodbye in the layer's protocol, then closes the socket
    // (close_unlayered). The default closes at once.
    virtual void close(const connection& conn) noexcept { close_unlayered(conn); }

    // The layer of a connection, or nullptr. It lives until the connection's on_close has
    // returned: use it only from the connection's callbacks, posted work and timers.
    [[nodiscard]] static connection_layer* of(const connection& conn) noexcept;

protected:
    // Would the send queue take `bytes` now (the caps of engine_options)? A refusal
    // (error::send_queue_full) arms on_drained as a refused send() does. A layer that must not
    // have its output refused once made (TLS: an encrypted record holds a sequence number) asks
    // first, then sends with `admitted`; it must not send anything else in between. Admitted
    // bytes pass the engine-wide bound (max_buffered_bytes) by at most what is in flight at once.
    [[nodiscard]] static std::error_code admit_unlayered(const connection& conn, std::size_t bytes) noexcept;
    // The connection's own send: copies `data` into the send queue.
    [[nodiscard]] static std::error_code send_unlayered(const connection& conn, gsl::span<const std::byte> data,
                                                        bool admitted = false) noexcept;
    // The connection's own graceful close (connection.h).
    static void close_unlayered(const connection& conn) noexcept;
};

}  // namespace wire
