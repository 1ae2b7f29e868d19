#include "datagram_handlers.h"

#include "console_output.h"

#include <wire/error.h>

#include <string>

namespace wire::server {

namespace {

// The socket ends only with the server (engine_stopped) or on a receive error it cannot survive:
// that one is worth a line, since the server then serves nothing more.
void report_close(std::error_code reason) {
    if (reason && reason != make_error_code(error::engine_stopped)) {
        log_line("server: the UDP socket closed: " + reason.message());
    }
}

class datagram_echo final : public datagram_handler {
public:
    explicit datagram_echo(server_counters& counters) noexcept : counters_(counters) {}

    void on_datagram(datagram_socket& s, const endpoint& from, gsl::span<const std::byte> data) override {
        server_counters::add(counters_.messages);
        // A refused echo (send cap reached: a peer sends faster than replies leave) is dropped, as
        // the network may drop any datagram; the peer counts it lost. Counted as backpressure.
        if (s.send_to(from, data)) {
            server_counters::add(counters_.backpressure_pauses);
        }
    }
    void on_close(datagram_socket&, std::error_code reason) override { report_close(reason); }

private:
    server_counters& counters_;
};

class datagram_discard final : public datagram_handler {
public:
    explicit datagram_discard(server_counters& counters) noexcept : counters_(counters) {}

    void on_datagram(datagram_socket&, const endpoint&, gsl::span<const std::byte>) override {
        server_counters::add(counters_.messages);
    }
    void on_close(datagram_socket&, std::error_code reason) override { report_close(reason); }

private:
    server_counters& counters_;
};

}  // namespace

std::unique_ptr<datagram_handler> make_datagram_handler(mode m, server_counters& counters) {
    if (m == mode::discard) {
        return std::make_unique<datagram_discard>(counters);
    }
    return std::make_unique<datagram_echo>(counters);
}

}  // namespace wire::server
