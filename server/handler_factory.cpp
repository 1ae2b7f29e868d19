#include "handler_factory.h"

#include "discard_handler.h"
#include "echo_handler.h"
#include "frame_handler.h"

#include <memory>

namespace wire::server {

handler_factory make_handler_factory(const options& opts, server_counters& counters) {
    switch (opts.mode) {
    case mode::discard:
        return [&counters] { return std::make_unique<discard_handler>(counters); };
    case mode::frame:
        return [&counters, max_frame = opts.max_frame] { return std::make_unique<frame_handler>(counters, max_frame); };
    case mode::echo:
        break;
    }
    return [&counters] { return std::make_unique<echo_handler>(counters); };
}

}  // namespace wire::server
