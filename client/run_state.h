#pragma once
// What every connection of a run shares: the options, the engine, the counters, the latency
// histogram, the stop flag, and the count of connections (or churn loops) still running.
#include <wire/engine.h>

#include "client_options.h"
#include "latency_histogram.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

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
    run_state(const options& opts, engine& e) noexcept : opts_(opts), engine_(e) {}

    [[nodiscard]] const options& opts() const noexcept { return opts_; }
    [[nodiscard]] engine& net() noexcept { return engine_; }
    [[nodiscard]] run_counters& counters() noexcept { return counters_; }
    [[nodiscard]] latency_histogram& latency() noexcept { return latency_; }

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

private:
    void log(const char* kind, std::uint64_t nth, const std::string& what) noexcept;

    const options& opts_;
    engine& engine_;
    run_counters counters_;
    latency_histogram latency_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;
    std::condition_variable finished_;
    std::size_t participants_ = 0;
};

}  // namespace wire::client
