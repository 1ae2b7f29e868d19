#pragma once
// The handler factory the listener calls once per accepted connection, for the chosen mode.
#include <wire/options.h>

#include "server_counters.h"
#include "server_options.h"

namespace wire::server {

// `counters` must outlive the listener and the engine's connections (main owns both).
[[nodiscard]] handler_factory make_handler_factory(const options& opts, server_counters& counters);

}  // namespace wire::server
