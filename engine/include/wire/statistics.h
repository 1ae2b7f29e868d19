#pragma once
// Counters an engine keeps (relaxed atomics; a snapshot is approximately consistent).
#include <cstdint>

namespace wire {

struct statistics {
    std::uint64_t connections_open = 0;      // now
    std::uint64_t connections_accepted = 0;  // total
    std::uint64_t connections_connected = 0;
    std::uint64_t connections_closed = 0;
    std::uint64_t connections_rejected = 0;  // over max_connections
    std::uint64_t connect_failures = 0;
    std::uint64_t accept_failures = 0;       // accept completions with an error (re-posted)
    std::uint64_t idle_timeouts = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t receive_calls = 0;         // WSARecv issued
    std::uint64_t send_calls = 0;            // WSASend issued
    std::uint64_t dequeue_calls = 0;         // GetQueuedCompletionStatusEx calls that returned entries
    std::uint64_t completions_dequeued = 0;  // entries those calls returned
    std::uint64_t completions_inline = 0;    // synchronous completions handled without the port
    std::uint64_t sockets_reused = 0;        // AcceptEx/ConnectEx that used a recycled socket
    std::uint64_t sends_refused = 0;         // send() refused with send_queue_full, for either cap
    std::uint64_t sends_refused_engine_limit = 0;  // ... of which by the engine-wide max_buffered_bytes
    std::uint64_t operations_pending = 0;    // overlapped operations not yet completed (0 when idle)
    std::uint64_t connection_objects = 0;    // connection objects alive (leak check)
    std::uint64_t buffered_bytes = 0;        // bytes in send queues now (bounded by max_buffered_bytes)
    std::uint64_t receive_buffers_held = 0;  // receive buffers held by connections now
    std::uint64_t receives_parked = 0;       // adaptive mode: quiet buffered receives swapped for zero-byte ones
    std::uint64_t post_failures = 0;         // PostQueuedCompletionStatus refused (each retried until it went through)
    std::uint64_t dequeue_failures = 0;      // GetQueuedCompletionStatusEx failed unexpectedly (the worker carried on)
    std::uint64_t send_overreports = 0;      // a send completed with more bytes than it was given: a defect, never
                                             // expected (that connection is reset; debug builds assert)
};

}  // namespace wire
