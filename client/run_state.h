#pragma once
// What every connection of a run shares: the options, the engine (and, with --tls, the TLS
// context), the counters, the latency histogram, the stop flag, and the count of connections (or
// churn loops) still running.
#include <wire/engine.h>
#include <wire/tls.h>

#include "client_options.h"
#include "latency_histogram.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>

namespace wire::client {

struct run_counters {
    std::atomic<std::uint64_t> messages{0};       // replies received complete and checked
    std::atomic<std::uint64_t> payload_bytes{0};  // their payload bytes
    std::atomic<std::uint64_t> errors{0};         // failed connects, unexpected closes, replies lost
    std::atomic<std::uint64_t> mismatches{0};     // replies that differ from what was sent
    std::atomic<std::uint64_t> connects{0};       // churn: connect-exchange-close cycles completed
};

class run_state {
public:
    // `tls`: the context of every connection with --tls (main owns it, beyond the run), else null.
    run_state(const options& opts, engine& e, const tls::client_context* tls = nullptr) noexcept
        : opts_(opts), engine_(e), tls_(tls) {}

    [[nodiscard]] const options& opts() const noexcept { return opts_; }
    [[nodiscard]] engine& net() noexcept { return engine_; }
    [[nodiscard]] run_counters& counters() noexcept { return counters_; }
    [[nodiscard]] latency_histogram& latency() noexcept { return latency_; }

    // Starts a connection to the server: TLS with --tls, else plain. On a plain connection
    // `first_data` rides in the connect itself (ConnectEx); a TLS connection's first flight is its
    // ClientHello, so with --tls `first_data` must be empty and the caller sends once on_open
    // comes. Throws what engine::connect throws.
    connection connect(std::unique_ptr<connection_handler> handler, gsl::span<const std::byte> first_data = {});
    [[nodiscard]] bool tls() const noexcept { return tls_ != nullptr; }

    // From on_open with --tls: keeps what the handshake settled on the first connection that opened.
    void note_session(const connection& c) noexcept;
    [[nodiscard]] std::optional<tls::session_info> session() const;

    // Once set, no new messages or connections are started; what is in flight completes.
    void begin_stopping() noexcept { stopping_.store(true, std::memory_order_release); }
    [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

    // Counts one more participant (a connection, or a churn loop) until it reports finished.
    void participant_started() noexcept;
    void participant_finished() noexcept;
    [[nodiscard]] std::size_t participants() const noexcept;
    // Waits until every participant has finished, or `timeout` passes; true when all finished.
    [[nodiscard]] bool wait_all_finished(std::chrono::milliseconds timeout);

    // Counts an error or a mismatch and logs it (the first few only, so a broken server cannot
    // flood the terminal).
    void report_error(const std::string& what) noexcept;
    void report_mismatch(const std::string& what) noexcept;
    // A connection that closed without opening: an error. A TLS reason (a failed handshake or
    // certificate check: the layer's or SChannel's error) is logged once per distinct reason, so a
    // run of failing handshakes says why once; any other as report_error ("did not connect").
    void report_not_opened(const std::string& who, std::error_code reason) noexcept;

private:
    void log(const char* kind, std::uint64_t nth, const std::string& what) noexcept;

    const options& opts_;
    engine& engine_;
    const tls::client_context* tls_;
    run_counters counters_;
    latency_histogram latency_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;
    std::condition_variable finished_;
    std::size_t participants_ = 0;
    std::optional<tls::session_info> session_;               // mutex_
    std::set<std::pair<const std::error_category*, int>> tls_failures_seen_;  // mutex_
};

}  // namespace wire::client
