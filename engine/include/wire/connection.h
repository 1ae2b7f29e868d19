#pragma once
// A TCP connection: the handle users keep, and the handler through which the engine reports events.
#include <wire/endpoint.h>
#include <wire/timer.h>

#include <gsl/span>

#include <cstddef>
#include <functional>
#include <memory>
#include <system_error>

namespace wire {

namespace detail {
class connection_impl;
}

class connection;

// Receives a connection's events on the engine's worker threads.
// - on_open once, before any other event (not at all when a connect fails; an accepted
//   connection that the engine turns away before it opens gets no event: see on_rejected).
// - on_data in order, one call at a time: a connection has one receive outstanding.
//   The span is valid only during the call; copy what must outlive it.
// - on_drained when a send() refused with error::send_queue_full may be retried (the queue fell
//   to the low-water mark).
// - on_close exactly once, after every other event of the connection has returned; nothing
//   follows it. The reason is empty for a close this side asked for and completed gracefully,
//   error::end_of_stream when the peer closed, or what went wrong.
// No two of a connection's callbacks run at once (nor its posted work and timers: see
// connection::post). They run on a strand: a worker that finds another of the connection's
// callbacks running queues its event and goes on with other connections, so one slow connection
// holds one worker, never the engine. The engine owns the handler and destroys it after on_close.
// Callbacks must not throw.
class connection_handler {
public:
    virtual ~connection_handler() = default;
    virtual void on_open(connection&) {}
    virtual void on_data(connection&, gsl::span<const std::byte> data) = 0;
    virtual void on_drained(connection&) {}
    virtual void on_close(connection&, std::error_code /*reason*/) {}
};

// A shared, copyable handle. The connection's memory lives until its last handle is dropped and
// its last operation has completed; once closed, every call is harmless (send reports not_connected).
// All members are thread-safe. A connection made through a layer (wire::tls) sends and closes
// through it (connection_layer.h).
class connection {
public:
    connection() = default;
    explicit connection(std::shared_ptr<detail::connection_impl> impl) noexcept;

    // Copies the bytes into the send queue and returns at once; never blocks, never reorders.
    // Refuses the whole buffer with error::send_queue_full when it does not fit under the cap
    // (a single buffer larger than the cap is accepted when the queue is empty), and with
    // error::not_connected once the connection is closing.
    [[nodiscard]] std::error_code send(gsl::span<const std::byte> data) const noexcept;

    // Graceful close: sends what is queued, then FIN, then waits (up to the engine's
    // close_timeout) for the peer's FIN before releasing the socket.
    void close() const noexcept;
    // Abortive close: discards the queue and resets the connection.
    void abort() const noexcept;
    // Abortive close with a reason the application chose (e.g. error::protocol_error).
    void abort(std::error_code reason) const noexcept;

    // Runs `work` on a worker, serialised with this connection's callbacks and timers: never at the
    // same time as any of them (a strand without a separate object). Work posted from one thread
    // runs in the order posted. Work accepted runs before on_close, even when the connection
    // closes meanwhile; it may run before on_open when posted while connecting. Returns error::not_connected (dropping `work`) once the connection has
    // closed, std::errc::not_enough_memory when the work item cannot be allocated. Must not throw.
    std::error_code post(std::function<void(connection&)> work) const;
    // A timer of this connection: runs serialised with its callbacks, and never once it has closed
    // (see timer.h). An empty handle when the connection is closed or memory ran out.
    timer after(timer::duration delay, std::function<void(connection&)> callback) const;
    timer every(timer::duration period, std::function<void(connection&)> callback) const;

    // Stop and restart issuing receives (backpressure towards the peer: TCP's window fills).
    void pause_receiving() const noexcept;
    void resume_receiving() const noexcept;

    [[nodiscard]] std::size_t queued_bytes() const noexcept;
    [[nodiscard]] bool is_open() const noexcept;
    [[nodiscard]] endpoint local_endpoint() const noexcept;
    [[nodiscard]] endpoint remote_endpoint() const noexcept;
    // A number unique within the engine, for logs.
    [[nodiscard]] std::uint64_t id() const noexcept;

    explicit operator bool() const noexcept { return impl_ != nullptr; }
    friend bool operator==(const connection& a, const connection& b) noexcept { return a.impl_ == b.impl_; }

private:
    friend class connection_layer;  // its unlayered calls reach the socket past the layer
    std::shared_ptr<detail::connection_impl> impl_;
};

}  // namespace wire
