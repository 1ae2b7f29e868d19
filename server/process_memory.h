#pragma once
// The server's own memory, for the statistics lines: what a peer makes it hold shows there.
#include <cstdint>

namespace wire::server {

// Resident bytes (the working set); 0 if the system cannot tell.
[[nodiscard]] std::uint64_t resident_bytes() noexcept;

}  // namespace wire::server
