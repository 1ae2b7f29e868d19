#include "run_state.h"

#include "console_output.h"

namespace wire::client {

namespace {

constexpr std::uint64_t logged_per_kind = 10;

}  // namespace

void run_state::participant_started() noexcept {
    const std::lock_guard lock(mutex_);
    ++participants_;
}

void run_state::participant_finished() noexcept {
    {
        const std::lock_guard lock(mutex_);
        --participants_;
    }
    finished_.notify_all();
}

std::size_t run_state::participants() const noexcept {
    const std::lock_guard lock(mutex_);
    return participants_;
}

bool run_state::wait_all_finished(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return finished_.wait_for(lock, timeout, [this] { return participants_ == 0; });
}

void run_state::report_error(const std::string& what) noexcept {
    log("error", counters_.errors.fetch_add(1, std::memory_order_relaxed) + 1, what);
}

void run_state::report_mismatch(const std::string& what) noexcept {
    log("mismatch", counters_.mismatches.fetch_add(1, std::memory_order_relaxed) + 1, what);
}

void run_state::log(const char* kind, std::uint64_t nth, const std::string& what) noexcept {
    if (nth > logged_per_kind) {
        return;
    }
    try {
        print_stderr_line(std::string("client: ") + kind + ": " + what +
                   (nth == logged_per_kind ? " (further ones are only counted)" : ""));
    } catch (...) {
        // No memory for the line: the count is kept.
    }
}


}  // namespace wire::client
