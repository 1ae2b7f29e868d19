#pragma once
// Range checks for engine_options and listen_options, run before anything is built from them.
// Platform-neutral.
#include <wire/datagram.h>
#include <wire/options.h>

namespace wire::detail {

// Throws std::invalid_argument naming the first field out of range, its range and its value,
// e.g. "engine_options::dequeue_batch must be 1..1024, got 0". The ranges are documented beside
// the fields in wire/options.h.
void validate(const engine_options& options);
void validate(const listen_options& options);
void validate(const datagram_options& options);

}  // namespace wire::detail
