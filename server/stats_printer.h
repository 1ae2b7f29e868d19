#pragma once
// The statistics lines on stderr: one every interval while serving, one final line at the end.
#include <wire/engine.h>

#include "server_counters.h"

#include <chrono>
#include <cstdint>
#include <string>

namespace wire::server {

class stats_printer {
public:
    using clock = std::chrono::steady_clock;

    // `tls`: the lines end with the TLS handshakes completed and failed.
    stats_printer(const engine& e, server_counters& counters, bool tls = false) noexcept;

    // Rates since the previous line (or the start), plus current totals; then the rejections of
    // the interval that were counted rather than logged one by one.
    void print_periodic();
    // Totals and average rates over the whole run; call after the engine has stopped.
    void print_final();

private:
    struct sample {
        clock::time_point at;
        std::uint64_t messages = 0;
        std::uint64_t bytes_in = 0;
        std::uint64_t bytes_out = 0;
    };
    [[nodiscard]] sample take() const noexcept;
    [[nodiscard]] std::string totals(const statistics& s) const;

    const engine& engine_;
    server_counters& counters_;  // flushes the rejection log's counts
    bool tls_;
    sample start_;
    sample previous_;
};

}  // namespace wire::server
