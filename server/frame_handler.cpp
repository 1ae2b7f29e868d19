#include "frame_handler.h"

#include <wire/error.h>

#include <new>
#include <string>

namespace wire::server {

void frame_handler::on_data(connection& c, gsl::span<const std::byte> data) {
    parser_.feed(data);
    std::uint64_t frames = 0;
    try {
        for (;;) {
            const frame_parser::status s = parser_.next();
            if (s == frame_parser::status::need_more) {
                break;
            }
            if (s != frame_parser::status::frame) {
                refuse(c, s);
                return;
            }
            const auto payload = parser_.payload();
            const auto header = frame_header(static_cast<std::uint32_t>(payload.size()));
            batch_.insert(batch_.end(), header.begin(), header.end());
            batch_.insert(batch_.end(), payload.begin(), payload.end());
            ++frames;
        }
    } catch (const std::bad_alloc&) {
        batch_ = {};
        c.abort(std::make_error_code(std::errc::not_enough_memory));
        return;
    }
    server_counters::add(counters_.messages, frames);
    if (!batch_.empty()) {
        replies_.send(c, batch_);  // taken without a copy if the queue is full
    }
    // The capacity is reused for the next receive, unless a large frame left a large buffer.
    batch_.clear();
    if (batch_.capacity() > frame_parser::retained_capacity) {
        batch_ = {};
    }
}

void frame_handler::on_drained(connection& c) { replies_.on_drained(c); }

void frame_handler::on_close(connection& c, std::error_code reason) { counters_.rejections.record_close(c, reason); }

void frame_handler::refuse(connection& c, frame_parser::status why) noexcept {
    batch_ = {};
    if (why == frame_parser::status::too_large) {
        counters_.rejections.record(rejection::oversized_frame, c, [this] {
            return "frame length " + std::to_string(parser_.declared_length()) + " is above --max-frame " +
                   std::to_string(parser_.max_frame()) + "; connection closed";
        });
        c.abort(make_error_code(error::protocol_error));
        return;
    }
    c.abort(std::make_error_code(std::errc::not_enough_memory));
}

}  // namespace wire::server
