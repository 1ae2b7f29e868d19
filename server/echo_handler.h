#pragma once
// echo mode: every byte received is sent back in order, with backpressure (see reply_sender).
#include <wire/connection.h>

#include "reply_sender.h"
#include "server_counters.h"

namespace wire::server {

class echo_handler final : public connection_handler {
public:
    explicit echo_handler(server_counters& counters) noexcept : counters_(counters), replies_(counters) {}

    void on_data(connection& c, gsl::span<const std::byte> data) override;
    void on_drained(connection& c) override;
    void on_close(connection& c, std::error_code reason) override;

private:
    server_counters& counters_;
    reply_sender replies_;
};

}  // namespace wire::server
