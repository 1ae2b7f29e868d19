#include "echo_handler.h"

namespace wire::server {

void echo_handler::on_data(connection& c, gsl::span<const std::byte> data) {
    server_counters::add(counters_.messages);
    replies_.send(c, data);
}

void echo_handler::on_drained(connection& c) { replies_.on_drained(c); }

void echo_handler::on_close(connection& c, std::error_code reason) { counters_.rejections.record_close(c, reason); }

}  // namespace wire::server
