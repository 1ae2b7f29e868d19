#pragma once
// Sends a connection's replies and turns a full send queue into backpressure towards the peer.
//
// When connection::send refuses a reply with error::send_queue_full, the reply is kept and the
// connection stops receiving; on_drained sends it again and, once it is accepted, receiving
// resumes. Nothing more is read (so nothing more is produced) until the kept reply has gone:
// what the server holds per connection stays bounded by one receive's worth of replies, however
// fast the peer sends and however slowly it reads. A layer (TLS) may still hand over plaintext it
// already holds after pause_receiving (pause stops the socket's receives, not the layer): a reply
// that comes while one is kept joins it, never goes ahead of it or replaces it.
#include <wire/connection.h>

#include "server_counters.h"

#include <gsl/span>

#include <cstddef>
#include <mutex>
#include <vector>

namespace wire::server {

class reply_sender {
public:
    explicit reply_sender(server_counters& counters) noexcept : counters_(counters) {}

    // From on_data. The bytes are copied if they have to be kept.
    void send(connection& c, gsl::span<const std::byte> reply) noexcept;
    // From on_data, for a reply the caller built: if it has to be kept, its bytes are taken
    // without a copy (leaving `reply` empty); otherwise `reply` is left as it was, so the caller
    // can reuse its capacity.
    void send(connection& c, std::vector<std::byte>& reply) noexcept;
    // From on_drained.
    void on_drained(connection& c) noexcept;

private:
    // Returns true when the reply must be kept (the queue was full).
    [[nodiscard]] bool refused(connection& c, gsl::span<const std::byte> reply) noexcept;
    // With a reply kept already: appends `reply` to it (order) and returns true.
    [[nodiscard]] bool kept_behind(connection& c, gsl::span<const std::byte> reply) noexcept;

    server_counters& counters_;
    // on_drained may run on another worker while on_data runs: the kept reply is shared.
    std::mutex mutex_;
    std::vector<std::byte> pending_;
};

}  // namespace wire::server
