#include "core/options_validation.h"

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace wire::detail {

namespace {

// Limits shared with options.h's documentation.
constexpr unsigned max_worker_threads = 1024;
constexpr unsigned max_dequeue_batch = 1024;
constexpr std::size_t min_receive_buffer = 512;
constexpr std::size_t max_receive_buffer = std::size_t{16} << 20U;
constexpr unsigned max_pending_accepts = 1024;
constexpr unsigned max_pending_receives = 1024;
constexpr std::size_t max_datagram_payload = 65'527;  // IPv6's largest UDP payload

[[noreturn]] void refuse(const char* type, const char* field, const std::string& range, const std::string& got) {
    throw std::invalid_argument(std::string(type) + "::" + field + " must be " + range + ", got " + got);
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

void check_range(const char* field, unsigned long long value, unsigned long long low, unsigned long long high,
                 const std::string& range) {
    if (value < low || value > high) {
        refuse("engine_options", field, range, std::to_string(value));
    }
}

void check_positive(const char* field, std::chrono::milliseconds d) {
    if (d.count() <= 0) {
        refuse("engine_options", field, "positive", ms(d));
    }
}

void check_not_negative(const char* field, std::chrono::milliseconds d, const char* zero_means) {
    if (d.count() < 0) {
        refuse("engine_options", field, std::string("0 (") + zero_means + ") or positive", ms(d));
    }
}

}  // namespace

void validate(const engine_options& o) {
    if (o.worker_threads > max_worker_threads) {
        refuse("engine_options", "worker_threads", "0 (one per logical processor) or 1..1024",
               std::to_string(o.worker_threads));
    }
    check_range("dequeue_batch", o.dequeue_batch, 1, max_dequeue_batch, "1..1024");
    check_range("receive_buffer_size", o.receive_buffer_size, min_receive_buffer, max_receive_buffer,
                "512..16777216 (16 MiB)");
    if (o.send_queue_cap == 0) {
        refuse("engine_options", "send_queue_cap", "at least 1", "0");
    }
    if (o.send_queue_low_water != 0 && o.send_queue_low_water >= o.send_queue_cap) {
        refuse("engine_options", "send_queue_low_water",
               "0 (send_queue_cap / 4) or below send_queue_cap (" + std::to_string(o.send_queue_cap) + ")",
               std::to_string(o.send_queue_low_water));
    }
    if (o.send_queue_guaranteed > o.send_queue_cap) {
        refuse("engine_options", "send_queue_guaranteed",
               "at most send_queue_cap (" + std::to_string(o.send_queue_cap) + ")",
               std::to_string(o.send_queue_guaranteed));
    }
    if (o.max_connections == 0) {
        refuse("engine_options", "max_connections", "at least 1", "0");
    }
    check_positive("connect_timeout", o.connect_timeout);
    check_not_negative("close_timeout", o.close_timeout, "abort at once");
    check_not_negative("idle_timeout", o.idle_timeout, "never");
    check_not_negative("stop_timeout", o.stop_timeout, "abort at once");
    if (o.max_inline_completions == 0) {
        refuse("engine_options", "max_inline_completions", "at least 1", "0");
    }
    switch (o.receive) {
    case receive_mode::adaptive:
    case receive_mode::buffered:
    case receive_mode::zero_byte:
        break;
    default:
        refuse("engine_options", "receive", "adaptive, buffered or zero_byte",
               std::to_string(static_cast<int>(o.receive)));
    }
    check_positive("receive_park_after", o.receive_park_after);
}

void validate(const listen_options& o) {
    if (o.pending_accepts == 0 || o.pending_accepts > max_pending_accepts) {
        refuse("listen_options", "pending_accepts", "1..1024", std::to_string(o.pending_accepts));
    }
    if (o.backlog < 0) {
        refuse("listen_options", "backlog", "0 (SOMAXCONN) or positive", std::to_string(o.backlog));
    }
}

void validate(const datagram_options& o) {
    if (o.pending_receives == 0 || o.pending_receives > max_pending_receives) {
        refuse("datagram_options", "pending_receives", "1..1024", std::to_string(o.pending_receives));
    }
    if (o.max_datagram_size == 0 || o.max_datagram_size > max_datagram_payload) {
        refuse("datagram_options", "max_datagram_size", "1..65527", std::to_string(o.max_datagram_size));
    }
    if (o.send_queue_cap == 0) {
        refuse("datagram_options", "send_queue_cap", "at least 1", "0");
    }
}

}  // namespace wire::detail
