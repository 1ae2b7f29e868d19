#pragma once
// Tunables and limits, with the defaults a server on an untrusted network should start from.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

namespace wire {

class connection_handler;
class endpoint;
using handler_factory = std::function<std::unique_ptr<connection_handler>()>;

// How a connection waits for data (see engine_options::receive).
enum class receive_mode {
    // A new or quiet connection receives into a 512-byte buffer inside the connection and holds
    // no pooled buffer (a lone small message costs one call); once bursts follow each other within
    // `receive_park_after`, or one fills that buffer, it receives into a pooled buffer (one call per
    // burst); a pooled receive that has seen nothing for `receive_park_after` is cancelled and
    // replaced by a small one, and the buffer goes back to the pool.
    adaptive,
    // Always a buffered receive outstanding: every connection holds its buffer for life.
    buffered,
    // Always wait in a zero-byte receive, then read what arrived into a pooled buffer and give it
    // back: least memory, one extra receive per burst.
    zero_byte,
};

// The engine checks every field when it is constructed and throws std::invalid_argument naming
// the first one out of its range (e.g. "engine_options::dequeue_batch must be 1..1024, got 0").
// Each field's range is given beside it; "0: ..." marks the fields where 0 asks for a default.
struct engine_options {
    unsigned worker_threads = 0;         // 0: one per logical processor; else 1..1024
    unsigned dequeue_batch = 64;         // entries per GetQueuedCompletionStatusEx call: 1..1024
    std::size_t receive_buffer_size = 16 * 1024;  // bytes per receive: 512..16 MiB
    std::size_t send_queue_cap = 4 * 1024 * 1024;  // queued bytes per connection before send refuses: >= 1
    // on_drained when the queue falls to this. 0: cap / 4; else below send_queue_cap.
    std::size_t send_queue_low_water = 0;
    // All send queues together. Past it send() refuses with error::send_queue_full a connection
    // that already has bytes queued beyond its guaranteed share; on_drained follows as its own
    // queue drains. 0: no engine-wide bound.
    std::size_t max_buffered_bytes = std::size_t{1} << 30;
    // What each connection may always queue, whatever that total: its queue up to this size, and
    // any one buffer into an empty queue. So peers that do not read cannot starve those that do;
    // the total may pass max_buffered_bytes by that much per connection. At most send_queue_cap.
    std::size_t send_queue_guaranteed = 64 * 1024;
    // Open connections (accepted + connected); excess closed at once. At least 1.
    std::size_t max_connections = 10'000;
    // Durations: none may be negative. Very large ones (milliseconds::max()) mean "practically
    // never": deadlines saturate instead of overflowing.
    std::chrono::milliseconds connect_timeout{10'000};  // positive
    // Graceful close: wait this long for the peer's FIN (0: abort at once).
    std::chrono::milliseconds close_timeout{5'000};
    // Close connections that neither receive nor send this long, with error::idle_timeout (0: never).
    std::chrono::milliseconds idle_timeout{0};
    std::chrono::milliseconds stop_timeout{2'000};   // stop(): graceful phase before aborting the rest (0: none)
    // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: handle synchronous completions inline (fewer dequeues).
    bool skip_completion_port_on_success = true;
    // In a row per connection (>= 1); then it yields through the port whenever other work may be
    // waiting for its worker: completions that worker has dequeued or an accept it holds, no worker
    // free to take new ones, or a due timer. Otherwise (another worker free) it goes on inline for
    // as long as receives finish at once.
    unsigned max_inline_completions = 16;
    // Idle connections hold no receive buffer in adaptive and zero_byte modes; buffers come from
    // a shared pool once data has arrived.
    receive_mode receive = receive_mode::adaptive;
    // adaptive: a buffered receive that has seen no data this long gives its buffer back. Positive.
    std::chrono::milliseconds receive_park_after{1'000};
    // Reuse sockets with DisconnectEx(TF_REUSE_SOCKET) where the platform supports it.
    bool recycle_sockets = true;
    // Told of each accepted connection reset at once, before its handler has seen any event, with
    // the peer's address and why: error::too_many_connections (over max_connections),
    // std::errc::not_enough_memory (the factory threw or memory ran out), error::aborted (the
    // factory returned no handler), error::engine_stopped (accepted while stopping, also when
    // stop() came before it opened: its handler is then destroyed without events), or the system
    // error that kept the socket from joining the completion port. For logging;
    // runs on a worker, must not block or throw. Connections the engine closes later (idle_timeout)
    // report their reason to their handler's on_close instead.
    std::function<void(const endpoint& remote, std::error_code reason)> on_rejected;
    // Told when a listener's accepts fail for want of resources (WSAENOBUFS, WSAEMFILE, no memory,
    // network down...): the listener backs off (each failed accept is retried after 10 ms,
    // doubling to at most 1 s, back to immediate after the first success) instead of spinning, and
    // this observer hears of it at most once per second per listener: the listening address, the
    // latest error, and how many failures there were since the previous report. A client that
    // resets before its accept completes is routine and not reported. Runs on a worker; must not
    // block or throw.
    std::function<void(const endpoint& local, std::error_code error, std::uint64_t failures)> on_accept_failure;
};

// Checked by engine::listen, which throws std::invalid_argument naming the field out of range.
struct listen_options {
    unsigned pending_accepts = 16;  // AcceptEx calls kept posted: 1..1024
    int backlog = 512;              // listen() backlog (SOMAXCONN caps it; 0: SOMAXCONN); not negative
    bool dual_stack = false;        // IPv6 listener also accepts IPv4 (IPV6_V6ONLY off)
};

// What the platform turned out to support. Skip-on-success is probed at start-up; socket reuse
// is learnt from use: true once a socket recycled with DisconnectEx(TF_REUSE_SOCKET) has worked
// for that purpose, false while unknown or after it failed (Wine 8: ConnectEx on a reused socket).
struct platform_features {
    bool skip_completion_port_on_success = false;
    bool disconnect_ex_probed = false;     // a DisconnectEx(TF_REUSE_SOCKET) has completed or timed out
    bool disconnect_ex_completes = false;  // ... and it completed
    bool disconnect_reuse_for_accept = false;
    bool disconnect_reuse_for_connect = false;
    // High-resolution waitable timers (Windows 10 1803+): timers run within a fraction of a
    // millisecond of their deadline instead of on the system tick (see timer.h).
    bool precise_timers = false;
    // UDP (engine::open_datagram), probed on the engine's first datagram socket: until then
    // udp_probed is false and so is the rest. Coalescing: UDP_SEND_MSG_SIZE (send) and
    // UDP_RECV_MAX_COALESCED_SIZE (receive) answered (Windows 10+; not Wine 8). Reported, not used yet.
    bool udp_probed = false;
    bool udp_send_coalescing = false;
    bool udp_receive_coalescing = false;
    bool udp_connection_reset_off = false;  // SIO_UDP_CONNRESET accepted (off) on the latest socket
};

}  // namespace wire
