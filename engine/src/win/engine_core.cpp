#include "win/engine_core.h"

#include <wire/error.h>

#include "core/options_validation.h"
#include "win/connection_impl.h"
#include "win/error_mapping.h"
#include "win/listener_impl.h"
#include "win/posted_work.h"
#include "win/system_calls.h"

#include <algorithm>

namespace wire::detail {

namespace {

// The engine whose worker the calling thread is (nullptr on any other thread).
thread_local const engine_core* current_core = nullptr;
// The engine whose due timers this worker is running (it goes straight back to its wait after).
thread_local const engine_core* running_timers_of = nullptr;

unsigned resolve_worker_count(unsigned requested) noexcept {
    if (requested != 0) {
        return requested;
    }
    return std::max(1U, std::thread::hardware_concurrency());
}

// Generous bound for the abortive phase of stop(): cancelled operations complete in microseconds
// on Windows; this only guards against a platform that never completes one.
constexpr std::chrono::seconds abort_drain_bound{30};

engine_options normalized(engine_options o) noexcept {
    o.worker_threads = resolve_worker_count(o.worker_threads);
    o.dequeue_batch = std::clamp(o.dequeue_batch, 1U, 1024U);
    o.receive_buffer_size = std::clamp<std::size_t>(o.receive_buffer_size, 512, 16U << 20);
    if (o.send_queue_low_water == 0 || o.send_queue_low_water >= o.send_queue_cap) {
        o.send_queue_low_water = o.send_queue_cap / 4;
    }
    o.send_queue_guaranteed = std::min(o.send_queue_guaranteed, o.send_queue_cap);
    o.max_inline_completions = std::max(1U, o.max_inline_completions);
    o.receive_park_after = std::max(o.receive_park_after, std::chrono::milliseconds(1));
    return o;
}

using engine_work = posted_work<std::function<void()>, engine_core>;

// Application callbacks must not throw; one that does is contained here, on the worker, so the
// engine goes on (the exception is dropped: there is no one to report it to).
template <typename Function>
void run_contained(Function& f) noexcept {
    try {
        f();
    } catch (...) {
    }
}

// Idle receive buffers kept for reuse: enough to absorb a burst of connections becoming active.
constexpr std::size_t spare_receive_buffers = 256;

// A connection whose receive filled its buffer (a bulk transfer: more was waiting) moves to one
// this many times larger, and back once a receive fits the normal size again: fewer calls per byte
// for bulk traffic, while connections exchanging small messages keep the normal size. Pooled
// buffers are only held while data flows (adaptive receives), so this costs idle connections
// nothing.
constexpr std::size_t bulk_factor = 4;
constexpr std::size_t spare_bulk_receive_buffers = 64;
constexpr std::size_t max_bulk_receive_buffer = 1U << 20;  // unless receive_buffer_size is larger

// Receive buffers come straight from the system (VirtualAlloc), not from the heap: once a quiet
// connection has given its buffer back and the pool has trimmed it, VirtualFree returns the pages,
// where a heap would keep the block committed among live objects. Each take beyond the pool's
// spares costs one allocation call, so the pool, not this, is what the data path uses.
buffer_pool::allocator page_allocator() noexcept {
    return {[](std::size_t size) noexcept -> std::byte* {
                return static_cast<std::byte*>(sys().virtual_alloc(nullptr, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
            },
            [](std::byte* block, std::size_t /*size*/) noexcept { sys().virtual_free(block, 0, MEM_RELEASE); }};
}

}  // namespace

engine_core::engine_core(const engine_options& options)
    : options_((validate(options), normalized(options))),  // throws std::invalid_argument before anything starts
      counters_(std::make_shared<engine_counters>()),
      // The notice runs only once the core is built (nothing schedules before), so watch_ exists.
      timers_(std::make_shared<timer_queue>([this](timer_queue::clock::time_point when) {
          // A timer set by a timer callback needs no wake-up: that worker waits next, and claims it.
          if (running_timers_of != this) {
              watch_.earlier(when);
          }
      })),
      port_(options_.worker_threads, options_.skip_completion_port_on_success, *counters_, *timers_),
      watch_(*timers_, port_),
      extensions_(extension_functions::load()),
      sockets_(options_, extensions_, *timers_),
      receive_buffers_(options_.receive_buffer_size, spare_receive_buffers, page_allocator()),
      bulk_receive_buffers_(std::max(options_.receive_buffer_size,
                                     std::min(bulk_factor * options_.receive_buffer_size, max_bulk_receive_buffer)),
                            spare_bulk_receive_buffers, page_allocator()),
      send_budget_(options_.max_buffered_bytes),
      registry_(options_.max_connections),
      context_{options_, port_, counters_, receive_buffers_, bulk_receive_buffers_, send_budget_, sockets_,
               extensions_, *timers_, timers_, registry_, next_connection_id_} {}

engine_core::~engine_core() { stop(); }

void engine_core::start_workers() {
    // The sweep's deadline exists before any worker waits: none starts out waiting with no timeout
    // (deadline_watch::before_busy).
    if (options_.idle_timeout.count() > 0 || options_.receive != receive_mode::buffered) {
        schedule_sweep();
    }
    batches_.reserve(options_.worker_threads);
    workers_.reserve(options_.worker_threads);
    for (unsigned i = 0; i < options_.worker_threads; ++i) {
        batches_.emplace_back(options_.dequeue_batch);
    }
    for (auto& batch : batches_) {
        workers_.emplace_back([this, &batch] { worker_loop(batch); });
    }
}

bool engine_core::on_own_worker() const noexcept { return current_core == this; }

void engine_core::worker_loop(std::vector<OVERLAPPED_ENTRY>& entries) noexcept {
    current_core = this;
    deadline_watch::waiter waiter;
    for (;;) {
        bool alertable = false;
        const DWORD timeout = watch_.begin_wait(waiter, alertable);
        ULONG removed = 0;
        port_.begin_wait();
        const BOOL dequeued = sys().get_queued_completion_status_ex(port_.handle(), entries.data(),
                                                                    static_cast<ULONG>(entries.size()), &removed,
                                                                    timeout, alertable ? TRUE : FALSE);
        const DWORD error = dequeued == FALSE ? ::GetLastError() : ERROR_SUCCESS;
        port_.end_wait();
        watch_.end_wait(waiter, dequeued == FALSE && error == WAIT_IO_COMPLETION);
        if (dequeued == FALSE) {
            if (error == WAIT_TIMEOUT || error == WAIT_IO_COMPLETION) {
                run_due_timers();  // a deadline came (the timeout, or the precise timer's APC)
                continue;
            }
            if (error == ERROR_ABANDONED_WAIT_0 || error == ERROR_INVALID_HANDLE) {
                // The port is gone: nothing more can arrive. The engine closes it only after
                // joining the workers, so outside a stop this is counted, never silent.
                if (!stopping()) {
                    engine_counters::add(counters_->dequeue_failures);
                }
                return;
            }
            // Anything else is unexpected: count it (statistics' dequeue_failures) and keep
            // serving rather than lose a worker silently.
            engine_counters::add(counters_->dequeue_failures);
            ::Sleep(1);  // never spin on a failing call
            continue;
        }
        engine_counters::add(counters_->dequeue_calls);
        engine_counters::add(counters_->completions_dequeued, removed);
        unsigned quits = 0;
        for (ULONG i = 0; i < removed; ++i) {
            const OVERLAPPED_ENTRY& entry = entries[i];
            const auto key = static_cast<completion_key>(entry.lpCompletionKey);
            if (key == completion_key::quit) {
                ++quits;
                continue;
            }
            if (key == completion_key::wake) {
                watch_.wake_received();  // the loop's next begin_wait claims the new deadline
                continue;
            }
            auto& op = static_cast<operation&>(*entry.lpOverlapped);
            const DWORD op_error = key == completion_key::posted ? op.posted_error : completion_error(op);
            completion_port::set_batch_left(removed - i - 1);
            watch_.before_busy();
            op.complete(op, op_error, entry.dwNumberOfBytesTransferred);
        }
        completion_port::set_batch_left(0);
        if (quits > 0) {
            // One batch may take several workers' quit packets: hand the extras back.
            for (unsigned i = 1; i < quits; ++i) {
                port_.post_quit();
            }
            return;
        }
        run_due_timers();
    }
}

void engine_core::run_due_timers() noexcept {
    if (timers_->next_deadline() == timer_queue::clock::time_point::max()) {
        return;
    }
    const auto now = timer_queue::clock::now();
    if (timers_->next_deadline() > now) {
        return;
    }
    running_timers_of = this;
    try {
        timers_->run_due(now);
        running_timers_of = nullptr;
    } catch (const std::bad_alloc&) {
        running_timers_of = nullptr;
        ::Sleep(1);  // no memory to run a periodic timer: it stays due; never spin on it
    }
}

std::error_code engine_core::post(std::function<void()> work) noexcept {
    posts_in_flight_.fetch_add(1, std::memory_order_seq_cst);
    struct in_flight_guard {
        std::atomic<unsigned>& count;
        ~in_flight_guard() { count.fetch_sub(1, std::memory_order_seq_cst); }
    } guard{posts_in_flight_};
    if (stopping()) {
        return make_error_code(error::engine_stopped);
    }
    engine_work* item = nullptr;
    try {
        item = new engine_work(
            [](operation& op, DWORD /*error*/, DWORD /*bytes*/) noexcept {
                const std::unique_ptr<engine_work> owned(static_cast<engine_work*>(&op));
                run_contained(owned->work);
                engine_counters::sub(owned->owner->counters_->operations_pending);
            },
            std::move(work), *this);
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    engine_counters::add(counters_->operations_pending);
    port_.post(*item, ERROR_SUCCESS);  // retried until it goes through; stop() waits for it
    return {};
}

timer_queue::timer_id engine_core::schedule(timer_queue::clock::duration delay, timer_queue::clock::duration period,
                                            std::function<void()> callback) noexcept {
    if (stopping()) {
        return 0;
    }
    timer_queue::timer_id id = 0;
    try {
        id = timers_->schedule(
            saturating_add(timer_queue::clock::now(), std::max(delay, timer_queue::clock::duration::zero())),
            [f = std::move(callback)]() mutable noexcept { run_contained(f); }, period, timer_queue::owner::application);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    if (stopping() && timers_->cancel(id)) {
        return 0;  // stop() began meanwhile and may have dropped the application's timers already
    }
    return id;
}

void engine_core::begin_stop() noexcept {
    if (stopping_.exchange(true, std::memory_order_acq_rel)) {
        return;  // the first caller does it
    }
    timers_->drop_application_timers();  // a schedule racing this is dropped by finish_stop at the latest
    (void)registry_.close();  // no connection or listener is added from here on
    registry_.for_each_listener([](listener_impl& l) { l.close(); });
    registry_.for_each_connection([](connection_impl& c) { c.close(make_error_code(error::engine_stopped)); });
    datagrams_.close_all();
}

void engine_core::stop() noexcept {
    begin_stop();
    if (on_own_worker()) {
        // Inside a callback: waiting here would wait on this very thread. Closing is under way;
        // the owner's stop() or ~engine (or the reaper, see wire::engine) finishes it.
        return;
    }
    // A second caller waits until the first one's stop has finished (never a worker: see above).
    std::call_once(stopped_, [this] { finish_stop(); });
}

void engine_core::finish_stop() noexcept {
    if (!registry_.wait_no_connections(options_.stop_timeout)) {
        registry_.for_each_connection([](connection_impl& c) { c.abort(make_error_code(error::engine_stopped)); });
    }
    stopped_cleanly_ = registry_.wait_empty(abort_drain_bound);
    // Work accepted by post() is in the port (or about to be) ahead of the quit packets below.
    for (const auto give_up = std::chrono::steady_clock::now() + abort_drain_bound;
         posts_in_flight_.load(std::memory_order_seq_cst) != 0 && std::chrono::steady_clock::now() < give_up;) {
        ::Sleep(1);  // a post() between its check and its packet: microseconds
    }
    stopped_cleanly_ = datagrams_.wait_empty(abort_drain_bound) && stopped_cleanly_;
    sockets_.drain();  // disconnects still in flight complete (cancelled) while the workers run
    sockets_.clear();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        port_.post_quit();
    }
    for (auto& w : workers_) {
        if (w.joinable()) {
            w.join();
        }
    }
    workers_.clear();
    timers_->clear();  // nothing runs them any more
}

void engine_core::schedule_sweep() noexcept {
    using std::chrono::milliseconds;
    // Timeouts are checked four times per period (a quarter of their length late at most); parking
    // twice (a quiet receive gives its buffer back between 1x and 1.5x receive_park_after).
    milliseconds period{1000};
    if (options_.idle_timeout.count() > 0) {
        period = std::min(period, options_.idle_timeout / 4);
    }
    if (options_.receive == receive_mode::adaptive) {
        period = std::min(period, options_.receive_park_after / 2);
    }
    // (zero_byte mode only trims the receive-buffer pool: once a second is plenty.)
    period = std::clamp(period, milliseconds(1), milliseconds(1000));
    try {
        // `this` outlives the callback: timers run on the workers, joined before the core goes.
        timers_->schedule(
            timer_queue::clock::now() + period,
            [this] {
                if (!stopping()) {
                    sweep();
                }
            },
            period);
    } catch (const std::bad_alloc&) {
        // No memory for the next sweep: idle timeouts and parking pause until memory returns,
        // which only a new engine would notice. Rare enough not to loop on.
    }
}

void engine_core::sweep() noexcept {
    const auto now = timer_queue::clock::now();
    const bool timeouts = options_.idle_timeout.count() > 0;
    const bool parking = options_.receive == receive_mode::adaptive;
    receive_buffers_.trim();  // spares a burst left behind go back to the system
    bulk_receive_buffers_.trim();
    if (!timeouts && !parking) {
        return;
    }
    registry_.for_each_connection([&](connection_impl& c) {
        if (timeouts && c.idle_for(now) >= options_.idle_timeout) {
            // A connection already closing has its own deadline (close_timeout): only open ones are
            // counted and closed here, so the count matches the idle_timeout reasons handlers see.
            if (c.is_open()) {
                engine_counters::add(counters_->idle_timeouts);
                c.abort(make_error_code(error::idle_timeout));
            }
        } else if (parking) {
            c.park_receive_if_quiet(now);
        }
    });
}

platform_features engine_core::features() const noexcept {
    platform_features f;
    f.skip_completion_port_on_success = port_.skip_on_success();
    f.disconnect_ex_probed = sockets_.disconnect_probed();
    f.disconnect_ex_completes = sockets_.disconnect_completes();
    f.disconnect_reuse_for_accept = sockets_.supported(reuse_use::accept);
    f.disconnect_reuse_for_connect = sockets_.supported(reuse_use::connect);
    f.precise_timers = watch_.precise();
    datagrams_.add_features(f);
    return f;
}

statistics engine_core::snapshot() const noexcept {
    const engine_counters& c = *counters_;
    const auto get = [](const engine_counters::counter& x) { return engine_counters::get(x); };
    statistics s;
    s.connections_open = get(c.connections_open);
    s.connections_accepted = get(c.connections_accepted);
    s.connections_connected = get(c.connections_connected);
    s.connections_closed = get(c.connections_closed);
    s.connections_rejected = get(c.connections_rejected);
    s.connect_failures = get(c.connect_failures);
    s.accept_failures = get(c.accept_failures);
    s.idle_timeouts = get(c.idle_timeouts);
    s.bytes_received = get(c.bytes_received);
    s.bytes_sent = get(c.bytes_sent);
    s.receive_calls = get(c.receive_calls);
    s.send_calls = get(c.send_calls);
    s.dequeue_calls = get(c.dequeue_calls);
    s.completions_dequeued = get(c.completions_dequeued);
    s.completions_inline = get(c.completions_inline);
    s.sockets_reused = get(c.sockets_reused);
    s.sends_refused = get(c.sends_refused);
    s.operations_pending = get(c.operations_pending);
    s.connection_objects = get(c.connection_objects);
    s.sends_refused_engine_limit = get(c.sends_refused_engine_limit);
    s.buffered_bytes = send_budget_.used();
    s.receive_buffers_held = receive_buffers_.outstanding() + bulk_receive_buffers_.outstanding();
    s.receives_parked = get(c.receives_parked);
    s.post_failures = get(c.post_failures);
    s.send_overreports = get(c.send_overreports);
    s.dequeue_failures = get(c.dequeue_failures);
    return s;
}

}  // namespace wire::detail
