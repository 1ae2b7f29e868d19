#include "win/completion_port.h"

#include "win/error_mapping.h"
#include "win/extensions.h"
#include "win/system_calls.h"

namespace wire::detail {

namespace {

// How soon a refused post is tried again: long enough for the system to free some memory, short
// enough that the connection waiting for it does not notice.
constexpr std::chrono::milliseconds post_retry_delay{10};

// Completions the calling worker has dequeued and not yet handled (0 on any other thread), and
// how many of its frames hold work that waits for the call they wrap (holding_work).
thread_local unsigned batch_left = 0;
thread_local unsigned frames_holding_work = 0;

}  // namespace

completion_port::completion_port(unsigned concurrency, bool skip_on_success, engine_counters& counters,
                                 timer_queue& timers)
    : counters_(counters), timers_(timers) {
    port_.reset(sys().create_io_completion_port(INVALID_HANDLE_VALUE, nullptr, 0, concurrency));
    if (!port_) {
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "CreateIoCompletionPort");
    }
    skip_on_success_ = skip_on_success && tcp_providers_are_ifs();
}

std::error_code completion_port::associate(SOCKET socket, socket_kind kind, bool& skips_port_on_success) noexcept {
    skips_port_on_success = false;
    const auto handle = reinterpret_cast<HANDLE>(socket);
    if (sys().create_io_completion_port(handle, port_.get(), static_cast<ULONG_PTR>(completion_key::io), 0) == nullptr) {
        return to_error_code(::GetLastError());  // the one mapping (1450 reads WSAENOBUFS everywhere)
    }
    if (skip_on_success_ && kind == socket_kind::stream &&
        sys().set_file_completion_notification_modes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) != FALSE) {
        skips_port_on_success = true;
    }
    return {};
}

void completion_port::set_batch_left(unsigned completions) noexcept { batch_left = completions; }

bool completion_port::should_yield() const noexcept {
    return batch_left > 0 || frames_holding_work > 0 || workers_waiting_.load(std::memory_order_relaxed) == 0 ||
           timers_.next_deadline() <= timer_queue::clock::now();
}

completion_port::holding_work::holding_work(bool holding) noexcept : holding_(holding) {
    if (holding_) {
        ++frames_holding_work;
    }
}

completion_port::holding_work::~holding_work() {
    if (holding_) {
        --frames_holding_work;
    }
}

bool completion_port::try_post(operation& op, DWORD error, DWORD bytes) noexcept {
    op.posted_error = error;
    return sys().post_queued_completion_status(port_.get(), bytes, static_cast<ULONG_PTR>(completion_key::posted), &op) != FALSE;
}

void completion_port::post(operation& op, DWORD error, DWORD bytes) noexcept {
    if (!try_post(op, error, bytes)) {
        retry_post(op, error, bytes);
    }
}

void completion_port::retry_post(operation& op, DWORD error, DWORD bytes) noexcept {
    engine_counters::add(counters_.post_failures);
    // `op` stays valid: its owner holds a busy unit that only this packet's handling gives back.
    // Timers run on the workers, which are joined before the port is destroyed: `this` outlives
    // the callback.
    try {
        timers_.schedule_after(post_retry_delay, [this, &op, error, bytes] { post(op, error, bytes); });
    } catch (const std::bad_alloc&) {
        // Out of memory for a timer as well: the packet is lost and its owner stays busy; stop()
        // finds it when its bounded drain expires and leaks the engine rather than free it under
        // an operation (see engine_core::stop).
    }
}

bool completion_port::post_wake() noexcept {
    if (sys().post_queued_completion_status(port_.get(), 0, static_cast<ULONG_PTR>(completion_key::wake), nullptr) != FALSE) {
        return true;
    }
    engine_counters::add(counters_.post_failures);
    return false;
}

void completion_port::post_quit() noexcept {
    while (sys().post_queued_completion_status(port_.get(), 0, static_cast<ULONG_PTR>(completion_key::quit), nullptr) == FALSE) {
        engine_counters::add(counters_.post_failures);
        ::Sleep(1);  // stop() cannot finish without it; only a system out of memory gets here
    }
}

}  // namespace wire::detail
