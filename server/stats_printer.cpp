#include "stats_printer.h"

#include "console_output.h"
#include "process_memory.h"

#include <cstdio>

namespace wire::server {

namespace {

double seconds_between(stats_printer::clock::time_point a, stats_printer::clock::time_point b) noexcept {
    return std::chrono::duration<double>(b - a).count();
}

// Rates over an interval; a zero-length interval (two samples in the same tick) reports 0.
double per_second(std::uint64_t amount, double seconds) noexcept {
    return seconds > 0 ? static_cast<double>(amount) / seconds : 0.0;
}

std::string fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
    return buffer;
}

std::string megabytes(std::uint64_t bytes) { return fixed(static_cast<double>(bytes) / 1e6, 2); }

}  // namespace

stats_printer::stats_printer(const engine& e, server_counters& counters, bool tls) noexcept
    : engine_(e), counters_(counters), tls_(tls), start_(take()), previous_(start_) {}

stats_printer::sample stats_printer::take() const noexcept {
    const statistics s = engine_.stats();
    return {clock::now(), counters_.messages.load(std::memory_order_relaxed), s.bytes_received, s.bytes_sent};
}

std::string stats_printer::totals(const statistics& s) const {
    return "connections " + std::to_string(s.connections_open) + " open, " + std::to_string(s.connections_accepted) +
           " accepted, " + std::to_string(s.connections_rejected) + " rejected, " + std::to_string(s.idle_timeouts) +
           " idle-closed; protocol errors " + std::to_string(counters_.rejections.total(rejection::oversized_frame)) +
           "; backpressure pauses " + std::to_string(counters_.backpressure_pauses.load(std::memory_order_relaxed)) +
           "; buffered " + megabytes(s.buffered_bytes) + " MB; memory " + megabytes(resident_bytes()) + " MB" +
           (tls_ ? "; TLS handshakes " + std::to_string(counters_.tls_handshakes.load(std::memory_order_relaxed)) +
                       " completed, " + std::to_string(counters_.rejections.total(rejection::tls_handshake)) + " failed"
                 : std::string());
}

void stats_printer::print_periodic() {
    const sample now = take();
    const double seconds = seconds_between(previous_.at, now.at);
    log_line("[server " + fixed(seconds_between(start_.at, now.at), 1) + "s] " +
             fixed(per_second(now.messages - previous_.messages, seconds), 0) + " msgs/s, in " +
             fixed(per_second(now.bytes_in - previous_.bytes_in, seconds) / 1e6, 2) + " MB/s, out " +
             fixed(per_second(now.bytes_out - previous_.bytes_out, seconds) / 1e6, 2) + " MB/s; " +
             totals(engine_.stats()));
    counters_.rejections.flush_counts(seconds);
    previous_ = now;
}

void stats_printer::print_final() {
    const sample now = take();
    counters_.rejections.flush_counts(seconds_between(previous_.at, now.at));
    const double seconds = seconds_between(start_.at, now.at);
    const std::uint64_t messages = now.messages - start_.messages;
    const std::uint64_t bytes_in = now.bytes_in - start_.bytes_in;
    const std::uint64_t bytes_out = now.bytes_out - start_.bytes_out;
    log_line("[server] final: " + fixed(seconds, 1) + " s, " + std::to_string(messages) + " msgs (" +
             fixed(per_second(messages, seconds), 0) + " msgs/s), in " + megabytes(bytes_in) + " MB (" +
             fixed(per_second(bytes_in, seconds) / 1e6, 2) + " MB/s), out " + megabytes(bytes_out) + " MB (" +
             fixed(per_second(bytes_out, seconds) / 1e6, 2) + " MB/s); " + totals(engine_.stats()));
}

}  // namespace wire::server
