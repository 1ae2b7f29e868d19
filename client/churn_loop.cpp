#include "churn_loop.h"

#include <wire/error.h>

#include <exception>
#include <string>
#include <vector>

namespace wire::client {

namespace {

// Every cycle of every loop sends different bytes, the same ones in every run.
std::uint64_t cycle_key(std::uint64_t loop, std::uint64_t iteration) noexcept { return (loop << 40U) ^ iteration; }

}  // namespace

void churn_loop::next() noexcept {
    if (run_.stopping()) {
        run_.participant_finished();
        return;
    }
    try {
        // Nothing of this loop runs until the connection's first callback (never inside
        // connect()), so the counter needs no lock.
        const std::uint64_t iteration = iteration_++;
        auto handler = std::make_unique<churn_handler>(shared_from_this(), iteration);
        std::vector<std::byte> message = handler->first_message();
        if (run_.tls()) {
            // The ClientHello rides in the connect: the message waits for on_open.
            handler->send_on_open(std::move(message));
            (void)run_.connect(std::move(handler));
        } else {
            // The message rides in the connect itself (ConnectEx's send buffer): one call fewer.
            (void)run_.connect(std::move(handler), message);
        }
    } catch (const std::exception& e) {
        run_.report_error("loop " + std::to_string(index_) + ": cannot start a connection: " + e.what());
        run_.participant_finished();
    }
}

churn_handler::churn_handler(std::shared_ptr<churn_loop> loop, std::uint64_t iteration)
    : loop_(std::move(loop)),
      iteration_(iteration),
      outgoing_(payload_stream::seed_for(cycle_key(loop_->index(), iteration))),
      expected_(payload_stream::seed_for(cycle_key(loop_->index(), iteration))) {}

std::vector<std::byte> churn_handler::first_message() {
    std::vector<std::byte> message(loop_->run().opts().size);
    outgoing_.fill(message);
    sent_at_ = clock::now();  // the exchange is timed from the connect, which carries the message
    return message;
}

void churn_handler::send_on_open(std::vector<std::byte> message) noexcept { deferred_ = std::move(message); }

void churn_handler::on_open(connection& c) {
    opened_ = true;
    if (!loop_->run().tls()) {
        return;  // the message went with the connect
    }
    loop_->run().note_session(c);
    sent_at_ = clock::now();  // TLS: the exchange is timed from the handshake's end
    // A refusal means the connection is closing: on_close reports the missing reply.
    (void)c.send(deferred_);
    deferred_ = {};
}

void churn_handler::on_data(connection& c, gsl::span<const std::byte> data) {
    run_state& run = loop_->run();
    const std::size_t size = run.opts().size;
    if (done_) {
        return;
    }
    if (data.size() > size - received_) {
        run.report_mismatch("loop " + std::to_string(loop_->index()) + ": more bytes came back than were sent");
        intact_ = false;
        c.abort(make_error_code(error::protocol_error));
        return;
    }
    if (!expected_.matches(data)) {
        intact_ = false;
    }
    received_ += data.size();
    if (received_ < size) {
        return;
    }
    run.latency().record(clock::now() - sent_at_);
    run.counters().messages.fetch_add(1, std::memory_order_relaxed);
    run.counters().payload_bytes.fetch_add(size, std::memory_order_relaxed);
    if (!intact_) {
        run.report_mismatch("loop " + std::to_string(loop_->index()) + ": reply of cycle " + std::to_string(iteration_) +
                            " differs from what was sent");
    }
    done_ = true;
    c.close();
}

void churn_handler::on_close(connection& /*c*/, std::error_code reason) {
    run_state& run = loop_->run();
    const std::string because = reason ? reason.message() : "closed gracefully";
    const std::string name = "loop " + std::to_string(loop_->index()) + ", cycle " + std::to_string(iteration_);
    if (done_) {
        // Graceful close after a complete exchange; a reset at this point loses no data, but a
        // server that resets instead of closing is worth knowing about.
        if (reason) {
            run.report_error(name + ": the close after the exchange failed: " + because);
        } else {
            run.counters().connects.fetch_add(1, std::memory_order_relaxed);
        }
    } else if (!opened_) {
        run.report_not_opened(name, reason);
    } else if (intact_) {
        run.report_error(name + ": closed after " + std::to_string(received_) + " of " +
                         std::to_string(run.opts().size) + " reply bytes: " + because);
    }
    loop_->next();
}

}  // namespace wire::client
