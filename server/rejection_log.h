#pragma once
// One place where the server reports the connections it (or the engine, on its behalf) turned away:
// over --max-connections, silent past --idle-timeout, an oversized frame, no memory, a failed TLS
// handshake (--tls). Each rejection
// is logged once: the first few of each kind in every statistics interval one line each, with the
// peer and the reason; the rest of that interval as one count per kind when the statistics print.
// A flood of rejections therefore costs a bounded number of lines, and none is left out.
#include <wire/connection.h>
#include <wire/endpoint.h>

#include "console_output.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <system_error>

namespace wire::server {

enum class rejection { too_many_connections, idle, oversized_frame, out_of_memory, tls_handshake };

class rejection_log {
public:
    static constexpr std::uint64_t lines_per_interval = 5;  // per kind

    // `detail` completes "connection N from PEER: ..." (built only if the line is printed).
    template <typename Detail>
    void record(rejection kind, const connection& c, Detail detail) noexcept {
        if (take_line(kind)) {
            try {
                log_line("server: connection " + std::to_string(c.id()) + " from " + c.remote_endpoint().to_string() +
                         ": " + detail());
            } catch (...) {
                // The line is lost (no memory for it); the count is not.
            }
        }
    }
    // From a handler's on_close: the reasons that are rejections (idle_timeout, out of memory).
    void record_close(const connection& c, std::error_code reason) noexcept;
    // --tls: a connection that closed without its on_open, i.e. before its TLS handshake completed.
    void record_handshake_failure(const connection& c, std::error_code reason) noexcept;
    // From the engine's on_rejected: connections closed before they had a handler.
    void record_refused(const endpoint& remote, std::error_code reason) noexcept;

    // Logs the rejections not logged one by one since the last call; the statistics printer calls it.
    void flush_counts(double interval_seconds) noexcept;

    [[nodiscard]] std::uint64_t total(rejection kind) const noexcept;

private:
    static constexpr std::size_t kinds = 5;
    struct counts {
        std::atomic<std::uint64_t> total{0};
        std::atomic<std::uint64_t> in_interval{0};  // since the last flush_counts
    };
    [[nodiscard]] bool take_line(rejection kind) noexcept;

    std::array<counts, kinds> counts_{};
};

}  // namespace wire::server
