#include "reply_sender.h"

#include <wire/error.h>

#include <new>

namespace wire::server {

bool reply_sender::refused(connection& c, gsl::span<const std::byte> reply) noexcept {
    // Any other failure means the connection is closing: on_close follows, nothing to keep.
    return c.send(reply) == error::send_queue_full;
}

bool reply_sender::kept_behind(connection& c, gsl::span<const std::byte> reply) noexcept {
    if (pending_.empty()) {
        return false;
    }
    try {
        pending_.insert(pending_.end(), reply.begin(), reply.end());
    } catch (const std::bad_alloc&) {
        c.abort(std::make_error_code(std::errc::not_enough_memory));
    }
    return true;
}

void reply_sender::send(connection& c, gsl::span<const std::byte> reply) noexcept {
    // Held across send(): a drain that the refusal triggers must find the reply already kept.
    const std::lock_guard lock(mutex_);
    if (kept_behind(c, reply) || !refused(c, reply)) {
        return;
    }
    try {
        pending_.assign(reply.begin(), reply.end());
    } catch (const std::bad_alloc&) {
        c.abort(std::make_error_code(std::errc::not_enough_memory));
        return;
    }
    server_counters::add(counters_.backpressure_pauses);
    c.pause_receiving();
}

void reply_sender::send(connection& c, std::vector<std::byte>& reply) noexcept {
    const std::lock_guard lock(mutex_);
    if (kept_behind(c, reply) || !refused(c, reply)) {
        return;
    }
    pending_.swap(reply);  // pending_ was empty: reply comes back empty
    server_counters::add(counters_.backpressure_pauses);
    c.pause_receiving();
}

void reply_sender::on_drained(connection& c) noexcept {
    const std::lock_guard lock(mutex_);
    if (pending_.empty() || refused(c, pending_)) {
        return;  // still full: the refusal asked for another on_drained
    }
    pending_.clear();
    pending_.shrink_to_fit();  // an idle connection keeps no reply memory
    c.resume_receiving();
}

}  // namespace wire::server
