#pragma once
// --udp: the datagram socket's handler for echo mode (each datagram sent back to its sender) and
// discard mode (counted and dropped). Frame mode is TCP only.
#include <wire/datagram.h>

#include "server_counters.h"
#include "server_options.h"

#include <memory>

namespace wire::server {

[[nodiscard]] std::unique_ptr<datagram_handler> make_datagram_handler(mode m, server_counters& counters);

}  // namespace wire::server
