#pragma once
// What the client prints: the progress line once a second, and at the end either the summary
// table or the one-line JSON object of the front-end contract.
#include "client_options.h"
#include "latency_histogram.h"
#include "run_state.h"

#include <cstdint>
#include <string>

namespace wire::client {

struct run_result {
    double seconds = 0;  // from the first connect to the last connection finished
    std::uint64_t messages = 0;
    std::uint64_t payload_bytes = 0;
    std::uint64_t errors = 0;
    std::uint64_t mismatches = 0;
    std::uint64_t connects = 0;  // churn only
    std::uint64_t lost = 0;      // --udp only: datagrams never answered
    double p50_us = 0;
    double p99_us = 0;
    double p999_us = 0;
    double max_us = 0;
    // --tls: what the first connection that opened settled (empty if none opened).
    std::string tls_protocol;
    std::string tls_cipher;
    std::string tls_alpn;  // the protocol ALPN chose; empty without
};

struct progress_sample {
    double elapsed = 0;       // seconds since the start
    double interval = 0;      // seconds since the previous sample
    std::size_t active = 0;   // connections (churn: loops) still running
    std::uint64_t messages = 0, payload_bytes = 0, connects = 0;  // during the interval
    std::uint64_t errors = 0, mismatches = 0;                     // so far
};

// The counters and latency percentiles of a run that took `seconds`.
[[nodiscard]] run_result collect(const run_counters& counters, const latency_histogram& latency, double seconds);
// Prints the summary table (or the JSON line) on stdout; returns the exit code: 0 when at least
// one message was verified and there were no errors and no mismatches, 1 otherwise.
[[nodiscard]] int conclude(const options& opts, const run_result& result);

[[nodiscard]] std::string progress_line(const options& opts, const progress_sample& sample);
[[nodiscard]] std::string summary_table(const options& opts, const run_result& result);
[[nodiscard]] std::string json_line(const options& opts, const run_result& result);

}  // namespace wire::client
