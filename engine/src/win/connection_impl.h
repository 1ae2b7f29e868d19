#pragma once
// One TCP connection: its socket, its operations, its send queue and its state.
//
// Ownership and lifetime:
// - The engine's registry holds a shared_ptr from the moment the connection exists until it is
//   finalized; user handles (wire::connection) hold more. The OVERLAPPEDs are members, so they live
//   as long as the object, and the object cannot die while the registry holds it.
// - busy_ counts what is still in progress: each issued operation (from just before its Winsock
//   call until its completion has been handled) and each user callback running outside an
//   operation's handling. The connection is finalized (on_close, handler destroyed, registry
//   reference dropped) only when the socket has been released and busy_ is zero, so on_close
//   follows every other callback and nothing follows it.
// - mutex_ guards the state, the send queue and the socket handle. Winsock calls that start
//   operations are made under it, so the socket cannot be closed underneath them; user callbacks
//   are never called with it held.
#include <wire/connection.h>
#include <wire/endpoint.h>

#include "core/buffer_pool.h"
#include "core/send_queue.h"
#include "core/timer_queue.h"
#include "win/operation.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>

namespace wire::detail {

class engine_core;

class connection_impl : public std::enable_shared_from_this<connection_impl> {
public:
    enum class state {
        connecting,     // ConnectEx outstanding
        open,           // data flows both ways
        closing,        // close requested or peer's FIN seen: flushing the send queue
        shutdown_sent,  // FIN sent, waiting for the peer's FIN (or the deadline)
        closed,         // socket released; waiting for outstanding operations, then finalize
    };

    connection_impl(std::shared_ptr<engine_core> engine, std::unique_ptr<connection_handler> handler);
    ~connection_impl();
    connection_impl(const connection_impl&) = delete;
    connection_impl& operator=(const connection_impl&) = delete;

    // Both start paths run on a worker (accept completion) or post to one (connect), so callbacks
    // never run inside a user's call.
    // `associated`: the socket came from the pool and is already on the port (with skips_port).
    // `no_delay_set`: TCP_NODELAY is already on (inherited from the listening socket).
    void start_accepted(unique_socket socket, bool associated, bool skips_port, bool no_delay_set,
                        const endpoint& local, const endpoint& remote) noexcept;
    void start_connect(const endpoint& remote) noexcept;

    // The creator took a max_connections slot for this connection; finalize gives it back.
    void adopt_slot() noexcept { holds_slot_ = true; }
    // Fails a connection that never started (e.g. over max_connections): on_close runs on a worker.
    void fail_start(std::error_code reason) noexcept;

    [[nodiscard]] std::error_code send(gsl::span<const std::byte> data) noexcept;
    void close(std::error_code reason = {}) noexcept;
    void abort(std::error_code reason) noexcept;
    void pause_receiving() noexcept;
    void resume_receiving() noexcept;

    [[nodiscard]] std::size_t queued_bytes() const noexcept;
    [[nodiscard]] bool is_open() const noexcept;
    [[nodiscard]] endpoint local_endpoint() const noexcept;
    [[nodiscard]] endpoint remote_endpoint() const noexcept;
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    [[nodiscard]] timer_queue::clock::duration idle_for(timer_queue::clock::time_point now) const noexcept;
    // Adaptive receives: when the outstanding receive is a buffered one and no data has arrived
    // for receive_park_after, cancels it (CancelIoEx on that OVERLAPPED only); its completion then
    // gives the buffer back and waits in a zero-byte receive. Called by the engine's sweep.
    void park_receive_if_quiet(timer_queue::clock::time_point now) noexcept;

private:
    using lock_type = std::unique_lock<std::mutex>;
    static constexpr std::size_t max_send_buffers = 64;  // WSABUFs gathered into one WSASend
    static constexpr std::size_t max_single_send = 0xFFFF'FFFFU;  // WSABUF::len is a ULONG

    struct receive_operation : operation {
        explicit receive_operation(connection_impl& c) noexcept : operation(&on_receive), owner(&c) {}
        connection_impl* owner;
    };
    struct send_operation : operation {
        explicit send_operation(connection_impl& c) noexcept : operation(&on_send), owner(&c) {}
        connection_impl* owner;
        std::array<WSABUF, max_send_buffers> buffers{};
    };
    struct connect_operation : operation {
        explicit connect_operation(connection_impl& c) noexcept : operation(&on_connect), owner(&c) {}
        connection_impl* owner;
    };
    // Engine-posted work with no kernel I/O behind it.
    struct control_operation : operation {
        control_operation(connection_impl& c, complete_fn fn) noexcept : operation(fn), owner(&c) {}
        connection_impl* owner;
        bool queued = false;  // guarded by mutex_: at most one packet per control operation
    };

    static void on_receive(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_send(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_connect(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_resume(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_drained_notice(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_finalize_notice(operation& op, DWORD error, DWORD bytes) noexcept;

    void handle_connect(DWORD error) noexcept;
    // After on_open: sends what was queued meanwhile (and on_drained if due), on the worker.
    void finish_opening() noexcept;
    // Prepares a socket (recycled when the pool has one) and issues ConnectEx. Returns the error
    // of an immediate failure; ERROR_SUCCESS when a completion will follow.
    [[nodiscard]] DWORD issue_connect(lock_type& lock) noexcept;
    void begin_receiving() noexcept;  // called on a worker with one busy unit held for the receive
    void receive_loop(DWORD error, DWORD bytes) noexcept;
    [[nodiscard]] bool issue_receive(lock_type& lock, DWORD& error, DWORD& bytes) noexcept;
    void handle_send(DWORD error, DWORD bytes) noexcept;
    // Starts WSASends while bytes are queued; completes synchronous ones inline (state only,
    // never a user callback). Returns true when a drained notification is due.
    [[nodiscard]] bool pump_send(lock_type& lock) noexcept;
    void enter_closing(lock_type& lock, std::error_code reason) noexcept;
    void send_fin(lock_type& lock) noexcept;
    void release_socket(lock_type& lock, std::error_code reason, bool abortive) noexcept;
    void post_control(lock_type& lock, control_operation& op) noexcept;
    // Ends a busy unit, then settle(). Both unlock; on a worker they may finalize and so destroy
    // *this: the caller returns at once.
    void release_busy(lock_type& lock, bool on_worker) noexcept;
    // Finalizes when the socket is released and nothing is busy: inline on a worker, posted from
    // any other thread (a user callback never runs inside a user's call).
    void settle(lock_type& lock, bool on_worker) noexcept;
    void finalize() noexcept;
    // busy_ changes, mirrored in the engine's operations_pending counter (leak checks).
    void add_busy() noexcept;
    void drop_busy() noexcept;
    [[nodiscard]] std::error_code refuse_send(bool engine_limit) noexcept;
    void set_reason(std::error_code reason) noexcept;
    void discard_queue() noexcept;
    void notify_drained() noexcept;
    void touch() noexcept;
    // Gives receive_buffer_ back to the pool it came from. Receive path only (or finalize).
    void give_receive_buffer() noexcept;
    [[nodiscard]] std::size_t receive_capacity() const noexcept;

    std::shared_ptr<engine_core> engine_;
    std::unique_ptr<connection_handler> handler_;
    const std::uint64_t id_;

    mutable std::mutex mutex_;
    state state_ = state::connecting;
    unique_socket socket_;
    bool skips_port_ = false;      // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is on for socket_
    bool opened_ = false;          // on_open ran (or is running)
    bool receive_active_ = false;  // a receive is outstanding or its completion is being handled
    bool receive_is_probe_ = false;  // the outstanding receive is zero-byte (owned by the receive path)
    bool receive_is_small_ = false;  // the outstanding receive uses small_buffer_ (adaptive, no pooled buffer)
    bool receive_bulk_ = false;      // receive_buffer_ comes from the engine's bulk pool (receive path only)
    // park_receive_if_quiet cancelled the outstanding buffered receive: its completion with
    // ERROR_OPERATION_ABORTED means "park", not "closed". Cleared by the next issue_receive.
    bool park_requested_ = false;
    bool paused_ = false;
    bool peer_fin_ = false;
    bool send_active_ = false;     // a WSASend is outstanding
    bool drain_wanted_ = false;    // send() refused since the last on_drained
    bool finalized_ = false;
    bool holds_slot_ = false;
    bool from_connect_ = false;    // created by engine::connect (its socket may serve ConnectEx again)
    bool recycled_socket_ = false; // socket_ came from the pool
    bool fin_sent_ = false;
    bool opening_ = false;         // on_open is running: send() only queues, so nothing overtakes it
    bool closed_passively_ = false;  // the peer's FIN arrived before ours left
    unsigned busy_ = 0;
    std::error_code reason_;
    bool reason_set_ = false;
    std::optional<timer_queue::timer_id> deadline_;
    send_queue queue_;
    endpoint local_;
    endpoint remote_;
    buffer_pool::buffer receive_buffer_;
    // Adaptive mode's receive while no pooled buffer is held: large enough for a typical request,
    // small enough that a quiet connection stays far below one pooled buffer.
    std::array<std::byte, 512> small_buffer_;
    std::size_t receive_buffer_size_;
    std::atomic<timer_queue::clock::rep> last_activity_;
    std::atomic<timer_queue::clock::rep> last_received_;  // data arrived (adaptive parking)
    bool received_before_ = false;  // last_received_ is a real arrival (receive path only)

    receive_operation receive_op_{*this};
    send_operation send_op_{*this};
    connect_operation connect_op_{*this};
    control_operation resume_op_{*this, &on_resume};
    control_operation drained_op_{*this, &on_drained_notice};
    control_operation finalize_op_{*this, &on_finalize_notice};
};

}  // namespace wire::detail
