#pragma once
// One TCP connection: its lifetime and close state machine, which drives three parts that each
// own their operation and data: the connector (ConnectEx), the receiver (WSARecv and its
// buffers) and the sender (send queue and WSASend). Its flows have a file each (see the top of
// connection_impl.cpp).
//
// Ownership and lifetime follow win/teardown.h (busy_ is its count of units):
// - The engine's registry holds a shared_ptr from creation until finalize; user handles
//   (wire::connection) may hold more, and may outlive the engine. The operations are members,
//   so their OVERLAPPEDs live as long as the object.
// - busy_ counts what is in progress: each operation from just before its system call until its
//   completion has been handled, each system call being made without the lock ("issuing" units,
//   which keep the socket handle open and the object alive across the call), each posted packet,
//   and each user callback run outside an operation's handling.
// - The socket handle is fixed once the connection leaves `connecting` and is closed (or
//   recycled) only by finalize, which runs when the state is `closed` and busy_ is zero: so any
//   thread holding a busy unit may use it without the lock.
// - Cancellation always names the operation (CancelIoEx with its OVERLAPPED): it cannot touch
//   another object's I/O even if a handle value was reused.
// - finalize runs on a worker: on_close, then the handler is destroyed, buffers go back, and the
//   registry lets go. After it the connection never touches the engine again (every entry point
//   checks the state under the lock), which is why the engine may be destroyed while handles live.
//
// Locking: mutex_ guards the state, the flags, the sender's queue, the strand and busy_. It is
// never held across a system call or a user callback: what a locked section decides to do with
// the system (cancel, post) is recorded and done by settle() after the unlock.
//
// Callbacks: every user callback but on_close (on_open, on_data, on_drained, posted work, timers)
// is a task of the connection's strand (core/strand_queue.h), so none runs at the same time as
// another. A worker with a task for a strand that is running queues it and returns to the port:
// it never waits for another worker's callback. The runner takes the tasks in order, and after
// max_inline_completions of them yields through the port when other work waits
// (connection_tasks.cpp). Each queued task holds a busy unit, and so does the runner, so on_close
// (finalize, when nothing is busy) comes after every task has run.
#include <wire/connection.h>
#include <wire/connection_layer.h>
#include <wire/endpoint.h>

#include "core/strand_queue.h"
#include "core/timer_queue.h"
#include "win/connection_context.h"
#include "win/connection_state.h"
#include "win/connector.h"
#include "win/name_resolution.h"
#include "win/operation.h"
#include "win/receiver.h"
#include "win/sender.h"
#include "core/slim_mutex.h"
#include "win/socket_pool.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <vector>

namespace wire::detail {

// An accepted socket as the listener hands it over: already on the port, TCP_NODELAY set.
struct accepted_socket {
    unique_socket socket;
    bool skips_port = false;  // skip-on-success is on for it
    endpoint local;
    endpoint remote;
};

class connection_impl : public std::enable_shared_from_this<connection_impl> {
public:
    // `origin`: accepted by a listener, or made by engine::connect.
    connection_impl(const connection_context& context, std::unique_ptr<connection_handler> handler, reuse_use origin);
    ~connection_impl();
    connection_impl(const connection_impl&) = delete;
    connection_impl& operator=(const connection_impl&) = delete;

    // Both start paths run on a worker (accept) or only issue (connect), so callbacks never run
    // inside a user's call.
    void start_accepted(accepted_socket accepted) noexcept;
    // `first_data` (may be empty) is queued and rides in ConnectEx: sent with the connect, before
    // on_open, one system call fewer for a client that speaks first.
    void start_connect(const endpoint& remote, gsl::span<const std::byte> first_data = {}) noexcept;
    // Resolves `host` first (win/name_resolution.h), then connects to each address in turn until
    // one accepts; connect_timeout bounds the whole.
    void start_resolving(std::string_view host, std::uint16_t port, gsl::span<const std::byte> first_data) noexcept;
    // The creator took a max_connections slot for this connection; finalize gives it back.
    void adopt_slot() noexcept { holds_slot_ = true; }
    // Fails a connection that never started (e.g. over max_connections): on_close runs on a worker.
    void fail_start(std::error_code reason) noexcept;

    // `admitted`: admit() took this size (connection_layer.h), so no cap refuses it.
    [[nodiscard]] std::error_code send(gsl::span<const std::byte> data, bool admitted = false) noexcept;
    [[nodiscard]] std::error_code admit(std::size_t size) noexcept;
    // The handler when it is a connection_layer (fixed at construction), else nullptr.
    [[nodiscard]] connection_layer* layer() const noexcept { return layer_; }
    // connection::send and close of a layered connection: the layer's, while the connection is
    // open or connecting, with a busy unit that keeps the layer alive across the call.
    [[nodiscard]] std::error_code send_through_layer(const connection& handle, gsl::span<const std::byte> data) noexcept;
    void close_through_layer(const connection& handle) noexcept;
    // connection::post: error::not_connected once closed, not_enough_memory without memory.
    [[nodiscard]] std::error_code post(std::function<void(connection&)> work) noexcept;
    // connection::after / every: the timer's id, 0 when refused (closed, no memory).
    [[nodiscard]] timer_queue::timer_id schedule_timer(timer_queue::clock::duration delay, timer_queue::clock::duration period,
                                                       std::function<void(connection&)> callback) noexcept;
    // A timer handle cancelled this connection's timer: it need not be cancelled at close.
    void forget_timer(timer_queue::timer_id id) noexcept;
    [[nodiscard]] std::weak_ptr<timer_queue> timer_source() const noexcept { return context_.shared_timers; }
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
    // Adaptive receives: a pooled receive quiet for receive_park_after is cancelled; its
    // completion gives the buffer back and waits small. Called by the engine's sweep.
    void park_receive_if_quiet(timer_queue::clock::time_point now) noexcept;

private:
    using lock_type = std::unique_lock<slim_mutex>;
    using control_operation = owned_operation<connection_impl>;

    // What a locked section leaves for settle() to do after the unlock.
    enum pending_work : unsigned {
        cancel_receive = 1U << 0,
        cancel_send = 1U << 1,
        cancel_connect = 1U << 2,
        post_resume = 1U << 3,
        post_strand = 1U << 4,  // a worker runs the strand: it was claimed off a worker, or yields
        post_finalize = 1U << 5,
        arm_deadline = 1U << 6,  // schedule deadline_after_ (scheduling may wake a worker)
    };

    // A task of the strand. `run` is called with the lock held and returns with it released (it
    // releases it around the user's callback); it returns true when the runner is to drop the
    // task's busy unit, false when the task passed it on.
    struct connection_task : strand_task {
        using run_fn = bool (*)(connection_task& task, lock_type& lock) noexcept;
        connection_task(connection_impl& o, run_fn run_task) noexcept : run(run_task), owner(&o) {}
        run_fn run;
        connection_impl* owner;
    };
    struct posted_task;  // connection::post (connection_tasks.cpp)
    struct timer_task;   // connection::after and every (connection_tasks.cpp)

    // ---- completions (static: the port hands back the operation) --------------------------
    static void on_connect(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_receive(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_send(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_resume(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_strand_packet(operation& op, DWORD error, DWORD bytes) noexcept;
    static void on_finalize_notice(operation& op, DWORD error, DWORD bytes) noexcept;

    // ---- connecting and opening (connection_connect.cpp) ------------------------------------
    void handle_connect(DWORD error, DWORD bytes) noexcept;
    static void on_resolved(operation& op, DWORD error, DWORD bytes) noexcept;
    void handle_resolved(DWORD error) noexcept;
    // Queues what a connect carries; false (and the connection failed) when it cannot be queued.
    [[nodiscard]] bool queue_first_data(lock_type& lock, gsl::span<const std::byte> first_data) noexcept;
    // A failed ConnectEx with resolved addresses left: issues the next; false when none is left.
    [[nodiscard]] bool try_next_address(lock_type& lock) noexcept;
    // Issues ConnectEx again to remote_ (another socket or address) with the connect's busy unit;
    // releases the lock and may finalize.
    void reissue_connect(lock_type& lock, bool allow_recycled) noexcept;
    // The send buffer for (another) ConnectEx: the front of the queue when bytes wait there.
    [[nodiscard]] WSABUF connect_payload() noexcept;
    // Under the lock that made the transition to open, on a worker, with one busy unit that
    // passes to the receive: on_open (a strand task), then what was queued meanwhile leaves,
    // then receiving begins. Unlocks; may finalize.
    void open_connection(lock_type& lock) noexcept;
    [[nodiscard]] static bool run_open(connection_task& task, lock_type& lock) noexcept;
    // After on_open: what send() queued meanwhile leaves now. Unlocks.
    void finish_opening(lock_type& lock) noexcept;

    // ---- receiving and sending (connection_io.cpp) -----------------------------------------
    void begin_receiving() noexcept;  // on a worker, with one busy unit for the receive
    // Before re-issuing a receive: false (and the receive's unit released) when the connection
    // no longer reads; true with an issuing unit taken and the lock released.
    [[nodiscard]] bool continue_receiving() noexcept;
    // Handles a finished receive: data goes to the strand (run_delivery), a FIN or an error ends
    // receiving. Loops only over the zero-byte probe and the idle sweep's cancel.
    void receive_loop(DWORD error, DWORD bytes) noexcept;
    // on_data for delivered_bytes_, then the next receive.
    [[nodiscard]] static bool run_delivery(connection_task& task, lock_type& lock) noexcept;
    // Issues the next receive; the lock is not held, an issuing unit is. Returns true when it
    // finished at once (outcome in error/bytes); otherwise the receive's unit went with it.
    [[nodiscard]] bool issue_receive(DWORD& error, DWORD& bytes) noexcept;
    void end_receiving(DWORD error) noexcept;
    void handle_send(DWORD error, DWORD bytes) noexcept;
    // Sends what is queued (and the FIN when closing and empty). Called and returns with the lock
    // held, but releases it around each system call. Returns true when on_drained is due.
    [[nodiscard]] bool flush(lock_type& lock) noexcept;
    // Under the lock: on_drained is due. Queued on the strand (once, however often it is due).
    // Returns true when that claimed the idle strand: the caller must see that it runs.
    [[nodiscard]] bool queue_drained() noexcept;
    [[nodiscard]] static bool run_drained(connection_task& task, lock_type& lock) noexcept;

    // ---- the strand, the application's work and timers (connection_tasks.cpp) ---------------
    // Under the lock: queues `task` (its busy unit already counted). When the strand was idle it
    // runs now on a worker (`on_worker`), otherwise a posted packet runs it: never inside a
    // user's call. Unlocks, and on a worker may finalize: the caller returns at once.
    void run_or_queue(lock_type& lock, connection_task& task, bool on_worker) noexcept;
    // On a worker, holding the claimed strand and the runner's busy unit: runs the queued tasks,
    // yielding through the port after a fair share. Unlocks; may finalize.
    void run_strand(lock_type& lock) noexcept;
    [[nodiscard]] static bool run_posted(connection_task& task, lock_type& lock) noexcept;
    [[nodiscard]] static bool run_timer(connection_task& task, lock_type& lock) noexcept;
    void timer_due(const std::shared_ptr<timer_task>& task) noexcept;  // on a worker
    void cancel_timers() noexcept;  // under the lock, when the socket is given up

    // ---- closing (connection_close.cpp) -----------------------------------------------------
    void transition(connection_state to) noexcept;
    void enter_closing(lock_type& lock, std::error_code reason) noexcept;
    // State closed: outstanding operations are cancelled (by settle), the deadline and the
    // application's timers dropped; the socket itself is closed or recycled at finalize. Keeps
    // the first reason recorded.
    void enter_closed(std::error_code reason, bool abortive) noexcept;
    // Under the lock: the connect or graceful-close deadline, `after` from now, replacing any.
    // settle() schedules it after the unlock; a close it cannot bound for want of memory is made
    // abortive then (a connect still ends on its own).
    void want_deadline(std::chrono::milliseconds after) noexcept;
    // Under the lock again after scheduling what want_deadline asked for (nothing: no memory).
    void adopt_deadline(std::optional<timer_queue::timer_id> armed, std::uint64_t generation) noexcept;
    void drop_deadline() noexcept;
    void deadline_expired(std::uint64_t generation) noexcept;
    void set_reason(std::error_code reason) noexcept;
    // Our FIN, once what was queued has left (from flush); both FINs exchanged close for good.
    void send_fin(lock_type& lock) noexcept;

    // ---- lifetime (connection_impl.cpp) ----------------------------------------------------
    void request_post(pending_work work) noexcept;
    // Ends a busy unit, then settle(). Both unlock; on a worker they may finalize and so destroy
    // *this: the caller returns at once.
    void release_busy(lock_type& lock, bool on_worker) noexcept;
    // Does what the locked section left (cancels, posts) after unlocking, and finalizes when the
    // socket is given up and nothing is busy: inline on a worker, posted from any other thread.
    void settle(lock_type& lock, bool on_worker) noexcept;
    void finalize() noexcept;
    void dispose_socket() noexcept;
    void add_busy() noexcept;
    void drop_busy() noexcept;
    void touch() noexcept;

    const connection_context& context_;
    std::shared_ptr<engine_counters> counters_;  // outlives the engine: the destructor counts out
    std::unique_ptr<connection_handler> handler_;
    connection_layer* const layer_;  // handler_ when it is a layer; used only while it lives (see above)
    const std::uint64_t id_;

    mutable slim_mutex mutex_;
    strand_queue strand_;  // the callbacks' (see above)
    connection_state state_ = connection_state::connecting;
    unsigned busy_ = 0;
    unsigned pending_work_ = 0;  // pending_work bits for settle()
    unsigned posted_ = 0;        // post_* bits whose packet is queued and not yet handled
    unique_socket socket_;       // fixed once open (see above); closed by finalize
    bool skips_port_ = false;    // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is on for socket_
    const reuse_use origin_;
    bool opened_ = false;        // reached open: on_open ran or runs
    bool holds_slot_ = false;
    bool opening_ = false;       // on_open is running: sends only queue, so nothing overtakes it
    bool paused_ = false;
    bool receive_active_ = false;  // a receive is outstanding or its completion is being handled
    bool connect_active_ = false;  // a ConnectEx is outstanding
    bool connect_sends_ = false;   // ... carrying the front of the send queue (the sender is active)
    bool peer_fin_ = false;
    bool fin_sending_ = false;     // shutdown(SD_SEND) is being called
    bool drained_queued_ = false;  // drained_task_ is queued on the strand
    DWORD delivered_bytes_ = 0;    // what delivery_task_ hands to on_data
    close_facts close_facts_;      // for the recycling policy
    std::error_code reason_;
    bool reason_set_ = false;
    std::optional<timer_queue::timer_id> deadline_;  // connect or graceful-close deadline
    std::chrono::milliseconds deadline_after_{0};     // what want_deadline asked settle() to arm
    std::uint64_t deadline_wanted_generation_ = 0;    // ... and in which generation
    std::vector<timer_queue::timer_id> timers_;      // the application's timers, cancelled at close
    // Bumped whenever a deadline is set or dropped: a timer callback already running when its
    // deadline was cancelled (the timer queue cannot stop it then) sees a newer value and does nothing.
    std::uint64_t deadline_generation_ = 0;
    endpoint local_;
    endpoint remote_;
    std::atomic<timer_queue::clock::rep> last_activity_;

    connector connector_;
    std::unique_ptr<name_resolution> resolution_;  // connects by host name only
    std::size_t next_address_ = 0;                  // into resolution_->addresses()
    receiver receiver_;
    sender sender_;
    control_operation resume_op_{*this, &on_resume};
    control_operation strand_op_{*this, &on_strand_packet};
    control_operation finalize_op_{*this, &on_finalize_notice};
    connection_task open_task_{*this, &run_open};
    connection_task delivery_task_{*this, &run_delivery};
    connection_task drained_task_{*this, &run_drained};
};

}  // namespace wire::detail
