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

connection run_state::connect(std::unique_ptr<connection_handler> handler, gsl::span<const std::byte> first_data) {
    if (tls_ != nullptr) {
        return tls::connect(engine_, opts_.server, std::move(handler), *tls_, opts_.tls->server_name);
    }
    return engine_.connect(opts_.server, std::move(handler), first_data);
}

void run_state::note_session(const connection& c) noexcept {
    try {
        const std::lock_guard lock(mutex_);
        if (!session_) {
            session_ = tls::info(c);
        }
    } catch (...) {
        // No memory for the names: the report shows none.
    }
}

std::optional<tls::session_info> run_state::session() const {
    const std::lock_guard lock(mutex_);
    return session_;
}

void run_state::report_not_opened(const std::string& who, std::error_code reason) noexcept {
    const bool tls_reason = reason.category() == tls::security_category() || reason.category() == tls::error_category();
    if (!tls_reason) {
        // With --tls the peer may also have closed during the handshake (e.g. a server that
        // failed it): both steps are named.
        report_error(who + (tls_ != nullptr ? ": did not connect or complete the TLS handshake: " : ": did not connect: ") +
                     (reason ? reason.message() : std::string("closed gracefully")));
        return;
    }
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    try {
        {
            const std::lock_guard lock(mutex_);
            if (!tls_failures_seen_.insert({&reason.category(), reason.value()}).second) {
                return;  // said once already
            }
        }
        print_stderr_line("client: error: " + who + ": TLS handshake failed: " + reason.message() +
                          " (further connections failing so are only counted)");
    } catch (...) {
        // No memory for the line: the count is kept.
    }
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
