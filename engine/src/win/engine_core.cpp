#include "win/engine_core.h"

#include <wire/error.h>

#include "core/options_validation.h"
#include "win/connection_impl.h"
#include "win/error_mapping.h"
#include "win/listener_impl.h"

#include <algorithm>

namespace wire::detail {

namespace {

thread_local bool this_thread_is_worker = false;

unsigned resolve_worker_count(unsigned requested) noexcept {
    if (requested != 0) {
        return requested;
    }
    return std::max(1U, std::thread::hardware_concurrency());
}

// Generous bound for the abortive phase of stop(): cancelled operations complete in microseconds
// on Windows; this only guards against a platform that never completes one.
constexpr std::chrono::seconds abort_drain_bound{30};

}  // namespace

namespace {

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
                return static_cast<std::byte*>(::VirtualAlloc(nullptr, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
            },
            [](std::byte* block, std::size_t /*size*/) noexcept { ::VirtualFree(block, 0, MEM_RELEASE); }};
}

}  // namespace

engine_core::engine_core(const engine_options& options)
    : options_((validate(options), normalized(options))),  // throws std::invalid_argument before anything starts
      receive_buffers_(options_.receive_buffer_size, spare_receive_buffers, page_allocator()),
      bulk_receive_buffers_(std::max(options_.receive_buffer_size,
                                     std::min(bulk_factor * options_.receive_buffer_size, max_bulk_receive_buffer)),
                            spare_bulk_receive_buffers, page_allocator()),
      send_budget_(options_.max_buffered_bytes) {
    port_.reset(::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, options_.worker_threads));
    if (!port_) {
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "CreateIoCompletionPort");
    }
    extensions_ = extension_functions::load();
    skip_port_supported_ = options_.skip_completion_port_on_success && tcp_providers_are_ifs();
}

engine_core::~engine_core() { stop(); }

void engine_core::start_workers() {
    workers_.reserve(options_.worker_threads);
    for (unsigned i = 0; i < options_.worker_threads; ++i) {
        workers_.emplace_back([this] { worker_loop(); });
    }
    if (options_.idle_timeout.count() > 0 || options_.receive != receive_mode::buffered) {
        schedule_idle_sweep();
    }
}

bool engine_core::on_worker_thread() noexcept { return this_thread_is_worker; }

void engine_core::worker_loop() noexcept {
    this_thread_is_worker = true;
    // Fixed-size batch on the stack's behalf: allocated once per worker, before any I/O.
    std::vector<OVERLAPPED_ENTRY> entries(options_.dequeue_batch);
    for (;;) {
        ULONG removed = 0;
        if (::GetQueuedCompletionStatusEx(port_.get(), entries.data(), static_cast<ULONG>(entries.size()), &removed,
                                          INFINITE, FALSE) == FALSE) {
            return;  // the port was closed: nothing more can arrive
        }
        engine_counters::add(counters_.dequeue_calls);
        engine_counters::add(counters_.completions_dequeued, removed);
        unsigned quits = 0;
        for (ULONG i = 0; i < removed; ++i) {
            const OVERLAPPED_ENTRY& entry = entries[i];
            const auto key = static_cast<completion_key>(entry.lpCompletionKey);
            if (key == completion_key::quit) {
                ++quits;
                continue;
            }
            auto& op = static_cast<operation&>(*entry.lpOverlapped);
            const DWORD error = key == completion_key::posted ? op.posted_error : completion_error(op);
            op.complete(op, error, entry.dwNumberOfBytesTransferred);
        }
        if (quits > 0) {
            // One batch may take several workers' quit packets: hand the extras back.
            for (unsigned i = 1; i < quits; ++i) {
                ::PostQueuedCompletionStatus(port_.get(), 0, static_cast<ULONG_PTR>(completion_key::quit), nullptr);
            }
            return;
        }
    }
}

std::error_code engine_core::associate(SOCKET socket, bool& skips_port_on_success) noexcept {
    skips_port_on_success = false;
    const auto handle = reinterpret_cast<HANDLE>(socket);
    if (::CreateIoCompletionPort(handle, port_.get(), static_cast<ULONG_PTR>(completion_key::io), 0) == nullptr) {
        return {static_cast<int>(::GetLastError()), std::system_category()};
    }
    if (skip_port_supported_ &&
        ::SetFileCompletionNotificationModes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) != FALSE) {
        skips_port_on_success = true;
    }
    return {};
}

bool engine_core::post(operation& op, DWORD error, DWORD bytes) noexcept {
    op.posted_error = error;
    return ::PostQueuedCompletionStatus(port_.get(), bytes, static_cast<ULONG_PTR>(completion_key::posted), &op) != FALSE;
}

bool engine_core::add_connection(std::shared_ptr<connection_impl> c) {
    std::lock_guard lock(registry_mutex_);
    if (stopping()) {
        return false;
    }
    const connection_impl* key = c.get();
    connections_.emplace(key, std::move(c));
    engine_counters::add(counters_.connections_open);
    return true;
}

void engine_core::remove_connection(const connection_impl* c) noexcept {
    std::shared_ptr<connection_impl> last;  // released outside the lock: it may run a destructor chain
    {
        std::lock_guard lock(registry_mutex_);
        if (const auto it = connections_.find(c); it != connections_.end()) {
            last = std::move(it->second);
            connections_.erase(it);
        }
    }
    registry_changed_.notify_all();
}

bool engine_core::add_listener(std::shared_ptr<listener_impl> l) {
    std::lock_guard lock(registry_mutex_);
    if (stopping()) {
        return false;
    }
    const listener_impl* key = l.get();
    listeners_.emplace(key, std::move(l));
    return true;
}

void engine_core::remove_listener(const listener_impl* l) noexcept {
    std::shared_ptr<listener_impl> last;
    {
        std::lock_guard lock(registry_mutex_);
        if (const auto it = listeners_.find(l); it != listeners_.end()) {
            last = std::move(it->second);
            listeners_.erase(it);
        }
    }
    registry_changed_.notify_all();
}

bool engine_core::take_slot() noexcept {
    std::size_t used = slots_used_.load(std::memory_order_relaxed);
    do {
        if (used >= options_.max_connections) {
            return false;
        }
    } while (!slots_used_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
    return true;
}

void engine_core::release_slot() noexcept { slots_used_.fetch_sub(1, std::memory_order_relaxed); }

template <typename Predicate>
bool engine_core::wait_registry(std::chrono::milliseconds timeout, Predicate done) {
    std::unique_lock lock(registry_mutex_);
    return registry_changed_.wait_for(lock, timeout, [&] { return done(); });
}

void engine_core::stop() noexcept {
    std::lock_guard stop_lock(stop_mutex_);
    if (stopped_) {
        return;
    }
    stopping_.store(true, std::memory_order_release);

    const auto snapshot_listeners = [this] {
        std::vector<std::shared_ptr<listener_impl>> out;
        std::lock_guard lock(registry_mutex_);
        for (const auto& [key, l] : listeners_) {
            out.push_back(l);
        }
        return out;
    };
    const auto snapshot_connections = [this] {
        std::vector<std::shared_ptr<connection_impl>> out;
        std::lock_guard lock(registry_mutex_);
        for (const auto& [key, c] : connections_) {
            out.push_back(c);
        }
        return out;
    };

    for (const auto& l : snapshot_listeners()) {
        l->close();
    }
    for (const auto& c : snapshot_connections()) {
        c->close(make_error_code(error::engine_stopped));
    }
    if (on_worker_thread()) {
        // A callback asked to stop: closing is under way; waiting here would wait on ourselves.
        // The engine's destructor (on a non-worker thread) finishes the job.
        return;
    }
    if (!wait_registry(options_.stop_timeout, [this] { return connections_.empty(); })) {
        for (const auto& c : snapshot_connections()) {
            c->abort(make_error_code(error::engine_stopped));
        }
    }
    for (const auto& l : snapshot_listeners()) {
        l->close();  // accepts that raced with the first close are cancelled again
    }
    wait_registry(abort_drain_bound, [this] { return connections_.empty() && listeners_.empty(); });
    pool_.drain();  // disconnects still in flight complete (cancelled) while the workers run
    pool_.clear();

    for (std::size_t i = 0; i < workers_.size(); ++i) {
        ::PostQueuedCompletionStatus(port_.get(), 0, static_cast<ULONG_PTR>(completion_key::quit), nullptr);
    }
    for (auto& w : workers_) {
        if (w.joinable()) {
            w.join();
        }
    }
    workers_.clear();
    timers_.stop();
    stopped_ = true;
}

void engine_core::schedule_idle_sweep() {
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
    timers_.schedule_after(period, [weak = weak_from_this()] {
        if (const auto self = weak.lock(); self != nullptr && !self->stopping()) {
            self->sweep_idle();
            self->schedule_idle_sweep();
        }
    });
}

void engine_core::sweep_idle() noexcept {
    const auto now = timer_queue::clock::now();
    const bool timeouts = options_.idle_timeout.count() > 0;
    const bool parking = options_.receive == receive_mode::adaptive;
    receive_buffers_.trim();  // spares a burst left behind go back to the system
    bulk_receive_buffers_.trim();
    std::vector<std::shared_ptr<connection_impl>> idle;
    {
        std::lock_guard lock(registry_mutex_);
        for (const auto& [key, c] : connections_) {
            if (timeouts && c->idle_for(now) >= options_.idle_timeout) {
                idle.push_back(c);
            } else if (parking) {
                c->park_receive_if_quiet(now);  // takes only the connection's lock: never calls back
            }
        }
    }
    for (const auto& c : idle) {
        // A connection already closing has its own deadline (close_timeout): only open ones are
        // counted and closed here, so the count matches the idle_timeout reasons handlers see.
        if (c->is_open()) {
            engine_counters::add(counters_.idle_timeouts);
            c->abort(make_error_code(error::idle_timeout));
        }
    }
}

platform_features engine_core::features() const noexcept {
    platform_features f;
    f.skip_completion_port_on_success = skip_port_supported_;
    f.disconnect_ex_probed = pool_.disconnect_probed();
    f.disconnect_ex_completes = pool_.disconnect_completes();
    f.disconnect_reuse_for_accept = pool_.supported(reuse_use::accept);
    f.disconnect_reuse_for_connect = pool_.supported(reuse_use::connect);
    return f;
}

statistics engine_core::snapshot() const noexcept {
    const auto get = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    statistics s;
    s.connections_open = get(counters_.connections_open);
    s.connections_accepted = get(counters_.connections_accepted);
    s.connections_connected = get(counters_.connections_connected);
    s.connections_closed = get(counters_.connections_closed);
    s.connections_rejected = get(counters_.connections_rejected);
    s.connect_failures = get(counters_.connect_failures);
    s.accept_failures = get(counters_.accept_failures);
    s.idle_timeouts = get(counters_.idle_timeouts);
    s.bytes_received = get(counters_.bytes_received);
    s.bytes_sent = get(counters_.bytes_sent);
    s.receive_calls = get(counters_.receive_calls);
    s.send_calls = get(counters_.send_calls);
    s.dequeue_calls = get(counters_.dequeue_calls);
    s.completions_dequeued = get(counters_.completions_dequeued);
    s.completions_inline = get(counters_.completions_inline);
    s.sockets_reused = get(counters_.sockets_reused);
    s.sends_refused = get(counters_.sends_refused);
    s.operations_pending = get(counters_.operations_pending);
    s.connection_objects = get(counters_.connection_objects);
    s.sends_refused_engine_limit = get(counters_.sends_refused_engine_limit);
    s.buffered_bytes = send_budget_.used();
    s.receive_buffers_held = receive_buffers_.outstanding() + bulk_receive_buffers_.outstanding();
    s.receives_parked = get(counters_.receives_parked);
    return s;
}

}  // namespace wire::detail
