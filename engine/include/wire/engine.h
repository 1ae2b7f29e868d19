#pragma once
// The engine: one I/O completion port and the worker threads that drain it.
#include <wire/connection.h>
#include <wire/datagram.h>
#include <wire/endpoint.h>
#include <wire/error.h>
#include <wire/listener.h>
#include <wire/options.h>
#include <wire/statistics.h>
#include <wire/timer.h>

#include <functional>
#include <memory>
#include <string_view>

namespace wire {

namespace detail {
class engine_core;
}

// Rules every object of the API follows, and where one differs, why:
// - Threads: callbacks run on the engine's workers, never inside the call that caused them, and
//   on_close (connection, datagram socket) comes last, once.
// - Handles are shared and copyable, and dropping the last one changes nothing: the engine keeps
//   a connection or datagram socket until it closes and a timer until it has run or is cancelled,
//   so an application that keeps no handle still hears every callback. A listener handle differs:
//   it owns its listener (move-only; dropping it closes the listener), because a listener has no
//   callback through which it could be reached and closed later.
// - Stopping: the calls that create a socket (listen, connect, open_datagram) throw
//   std::system_error with error::engine_stopped, as they throw for a socket that cannot be made:
//   they return a handle and have no other way to fail. The calls that hand over work report it
//   without throwing, since they are made from callbacks, which must not throw: post returns the
//   error code, after and every an empty timer (as when memory runs out).
// - Serialisation: a connection's callbacks, posted work and timers never run at once (a strand:
//   see connection.h); a datagram socket's may (see datagram.h), because UDP promises no order and
//   its several posted receives complete in parallel: serialise in the handler where needed.
class engine {
public:
    // Starts Winsock, the completion port and the workers. Throws std::invalid_argument naming the
    // field when an option is out of its range (see options.h), std::system_error on failure
    // (set-up is the only place the engine throws).
    explicit engine(engine_options options = {});
    // Stops (see stop()). Handles that outlive the engine stay safe to use; they report closed.
    // May run inside one of the engine's own callbacks: the stop then finishes on a thread of its
    // own once the callback has returned, and the engine's memory goes with it.
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // Listens on `local` and calls `make_handler` once per accepted connection (on a worker).
    // Throws std::system_error when the address cannot be bound, std::invalid_argument when an
    // option is out of its range.
    [[nodiscard]] listener listen(const endpoint& local, handler_factory make_handler,
                                  listen_options options = {});

    // Starts connecting; returns at once. The handler's on_open runs when connected; when the
    // connect fails (refused, unreachable, timed out) only on_close runs, with the reason.
    // `first_data` (copied) is sent with the connect itself (ConnectEx's send buffer): a client
    // that speaks first saves a system call, and the bytes are on their way before on_open.
    connection connect(const endpoint& remote, std::unique_ptr<connection_handler> handler,
                       gsl::span<const std::byte> first_data = {});
    // Connects by host name (UTF-8) or numeric address: the name is resolved without blocking
    // the caller (GetAddrInfoExW; a worker resolves where the system cannot do it asynchronously),
    // then each address is tried in the system's order until one connects. connect_timeout bounds
    // the whole. A name that does not resolve ends in on_close with the system's error
    // (WSAHOST_NOT_FOUND, 11001: "No such host is known"); if every address fails, with the
    // last address's error. Throws std::invalid_argument for an empty host.
    connection connect(std::string_view host, std::uint16_t port, std::unique_ptr<connection_handler> handler,
                       gsl::span<const std::byte> first_data = {});

    // Runs `work` on a worker, soon, after what is already queued. Returns error::engine_stopped
    // (and drops `work` without running it) once stop() has begun; std::errc::not_enough_memory
    // when the work item cannot be allocated. Work accepted before stop() began runs before stop()
    // returns. `work` must not throw (if it does, the exception is swallowed).
    std::error_code post(std::function<void()> work);

    // Runs `callback` on a worker once `delay` has passed (after), or every `period` (every: the
    // first run one period from now; the cadence does not drift; periods missed while every worker
    // was busy are skipped). Returns the handle that cancels it (see timer.h), or an empty handle
    // once stop() has begun or when memory ran out. Negative delays count as zero; a period
    // must be positive (std::invalid_argument otherwise).
    timer after(timer::duration delay, std::function<void()> callback);
    timer every(timer::duration period, std::function<void()> callback);

    // Opens a UDP socket bound to `local` (port 0: any free port) with options.pending_receives
    // receives posted; datagrams reach `handler` on the workers (see datagram.h). Throws
    // std::system_error when it cannot be bound (or the engine is stopping), std::invalid_argument
    // when an option is out of its range or the handler is empty.
    [[nodiscard]] datagram_socket open_datagram(const endpoint& local, std::unique_ptr<datagram_handler> handler,
                                                datagram_options options = {});

    // Stops accepting, closes every connection (gracefully until options.stop_timeout, then
    // abortively), waits for every outstanding operation to complete, joins the workers.
    // Idempotent and thread-safe: concurrent callers return once it is done. Inside one of this
    // engine's callbacks it cannot wait for the workers (it runs on one): there it only begins
    // the stop (no new connections, every connection closing with error::engine_stopped) and
    // returns; stop() from another thread or the destructor finishes it.
    void stop() noexcept;

    [[nodiscard]] statistics stats() const noexcept;
    [[nodiscard]] const engine_options& options() const noexcept;
    // What the platform turned out to support (probed at start-up, not assumed).
    [[nodiscard]] platform_features features() const noexcept;

private:
    std::unique_ptr<detail::engine_core> core_;
};

}  // namespace wire
