#include "discard_handler.h"

namespace wire::server {

void discard_handler::on_data(connection& /*c*/, gsl::span<const std::byte> /*data*/) {
    // The engine already counts the bytes; only the receive itself is counted here.
    server_counters::add(counters_.messages);
}

}  // namespace wire::server
