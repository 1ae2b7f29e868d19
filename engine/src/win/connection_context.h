#pragma once
// What a connection and its parts (connector, receiver, sender) need from the engine, named, so
// that none of them reaches through the engine core. Built once by the engine; every reference
// stays valid until the engine is destroyed, which happens only after every connection has
// finalized (see engine_core.h): a connection uses its context only until it finalizes.
#include <wire/options.h>

#include "core/buffer_pool.h"
#include "core/byte_budget.h"
#include "core/timer_queue.h"
#include "win/completion_port.h"
#include "win/engine_counters.h"
#include "win/extensions.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace wire::detail {

class connection_registry;
class socket_pool;

struct connection_context {
    const engine_options& options;
    completion_port& port;
    // Shared: a connection object counts itself out of connection_objects in its destructor,
    // which may run after the engine is gone (a user handle outlived it).
    std::shared_ptr<engine_counters> counters;
    buffer_pool& receive_buffers;
    // Four times receive_buffer_size: for connections whose receives fill a normal buffer.
    buffer_pool& bulk_receive_buffers;
    byte_budget& send_budget;  // engine_options::max_buffered_bytes over all send queues
    socket_pool& sockets;
    const extension_functions& extensions;
    timer_queue& timers;
    const std::shared_ptr<timer_queue>& shared_timers;  // for the users' timer handles (weak)
    connection_registry& registry;
    std::atomic<std::uint64_t>& next_connection_id;
};

}  // namespace wire::detail
