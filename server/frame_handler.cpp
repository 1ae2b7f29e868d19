#include "frame_handler.h"

#include "console_output.h"

#include <wire/error.h>

#include <new>
#include <string>

namespace wire::server {

namespace {

// Protocol errors are logged one line each up to this many, then only counted: a hostile peer
// must not be able to flood the log.
constexpr std::uint64_t logged_protocol_errors = 10;

}  // namespace

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

void frame_handler::refuse(connection& c, frame_parser::status why) noexcept {
    batch_ = {};
    if (why == frame_parser::status::too_large) {
        const std::uint64_t count = counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed) + 1;
        if (count <= logged_protocol_errors) {
            try {
                log_line("server: connection " + std::to_string(c.id()) + " from " + c.remote_endpoint().to_string() +
                         ": frame length " + std::to_string(parser_.declared_length()) + " is above --max-frame " +
                         std::to_string(parser_.max_frame()) + "; connection closed" +
                         (count == logged_protocol_errors ? " (further protocol errors are only counted)" : ""));
            } catch (const std::bad_alloc&) {
                // The line is lost; the count is not.
            }
        }
        c.abort(make_error_code(error::protocol_error));
        return;
    }
    c.abort(std::make_error_code(std::errc::not_enough_memory));
}

}  // namespace wire::server
