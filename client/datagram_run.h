#pragma once
// --udp: the whole run (sockets, the send loop's timer, progress, the drain, the report).
#include "client_options.h"

namespace wire::client {

// Returns the exit code: 0 with verified datagrams and no errors or mismatches, 1 otherwise.
// Throws what the engine throws at set-up.
[[nodiscard]] int run_udp(const options& opts);

}  // namespace wire::client
