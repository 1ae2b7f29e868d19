#pragma once
// frame mode: the stream is a sequence of frames (4-byte little-endian length N, then N bytes);
// each frame is sent back unchanged. A length above --max-frame is a protocol error: that
// connection is aborted before anything is allocated for the frame; others are unaffected.
#include <wire/connection.h>
#include <wire/frame_parser.h>

#include "reply_sender.h"
#include "server_counters.h"

#include <cstdint>
#include <vector>

namespace wire::server {

class frame_handler final : public connection_handler {
public:
    frame_handler(server_counters& counters, std::uint32_t max_frame) noexcept
        : counters_(counters), parser_(max_frame), replies_(counters) {}

    void on_data(connection& c, gsl::span<const std::byte> data) override;
    void on_drained(connection& c) override;
    void on_close(connection& c, std::error_code reason) override;

private:
    void refuse(connection& c, frame_parser::status why) noexcept;

    server_counters& counters_;
    frame_parser parser_;
    // The frames one receive completed, sent back with a single send(): a receive full of small
    // frames costs one send, not one per frame. Bounded by one receive plus one frame.
    std::vector<std::byte> batch_;
    reply_sender replies_;
};

}  // namespace wire::server
