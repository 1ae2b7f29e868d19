#include "rejection_log.h"

#include <wire/error.h>

#include <cstdio>

namespace wire::server {

namespace {

constexpr std::array<const char*, 5> kind_names = {"over --max-connections", "idle past --idle-timeout",
                                                   "frame above --max-frame", "out of memory",
                                                   "TLS handshake failed"};

std::size_t index(rejection kind) noexcept { return static_cast<std::size_t>(kind); }

}  // namespace

bool rejection_log::take_line(rejection kind) noexcept {
    counts& c = counts_[index(kind)];
    c.total.fetch_add(1, std::memory_order_relaxed);
    return c.in_interval.fetch_add(1, std::memory_order_relaxed) < lines_per_interval;
}

void rejection_log::record_refused(const endpoint& remote, std::error_code reason) noexcept {
    rejection kind = rejection::too_many_connections;
    const char* why = "over --max-connections; reset at once";
    if (reason == std::errc::not_enough_memory) {
        kind = rejection::out_of_memory;
        why = "no memory for a new connection; reset at once";
    } else if (reason != error::too_many_connections) {
        return;  // accepted while the server stops: not the peer's doing
    }
    if (take_line(kind)) {
        try {
            log_line("server: connection from " + remote.to_string() + ": " + why);
        } catch (...) {
            // As in record: the count stays.
        }
    }
}

void rejection_log::record_close(const connection& c, std::error_code reason) noexcept {
    if (reason == error::idle_timeout) {
        record(rejection::idle, c, [] { return std::string("nothing received or sent for --idle-timeout; closed"); });
    } else if (reason == std::errc::not_enough_memory) {
        record(rejection::out_of_memory, c, [] { return std::string("out of memory for its data; closed"); });
    }
}

void rejection_log::record_handshake_failure(const connection& c, std::error_code reason) noexcept {
    record(rejection::tls_handshake, c, [&reason] {
        return "TLS handshake failed: " + (reason ? reason.message() : std::string("closed gracefully")) + "; closed";
    });
}

void rejection_log::flush_counts(double interval_seconds) noexcept {
    for (std::size_t i = 0; i < kinds; ++i) {
        const std::uint64_t n = counts_[i].in_interval.exchange(0, std::memory_order_relaxed);
        if (n > lines_per_interval) {
            char seconds[32];
            std::snprintf(seconds, sizeof(seconds), "%.1f", interval_seconds);
            try {
                log_line("server: " + std::to_string(n - lines_per_interval) + " more connections closed, " +
                         kind_names[i] + ", in the last " + seconds + " s (counted, not logged one by one)");
            } catch (...) {
                // As above: the count stays in the statistics line.
            }
        }
    }
}

std::uint64_t rejection_log::total(rejection kind) const noexcept {
    return counts_[index(kind)].total.load(std::memory_order_relaxed);
}

}  // namespace wire::server
