#pragma once
// discard mode: bytes are read, counted and dropped; nothing is ever sent.
#include <wire/connection.h>

#include "server_counters.h"

namespace wire::server {

class discard_handler final : public connection_handler {
public:
    explicit discard_handler(server_counters& counters) noexcept : counters_(counters) {}

    void on_data(connection& c, gsl::span<const std::byte> data) override;
    void on_close(connection& c, std::error_code reason) override;

private:
    server_counters& counters_;
};

}  // namespace wire::server
