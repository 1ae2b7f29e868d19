#include "discard_handler.h"

namespace wire::server {

void discard_handler::on_data(connection& /*c*/, gsl::span<const std::byte> /*data*/) {
    // The engine already counts the bytes; only the receive itself is counted here.
    server_counters::add(counters_.messages);
}

void discard_handler::on_close(connection& c, std::error_code reason) { counters_.rejections.record_close(c, reason); }

}  // namespace wire::server
