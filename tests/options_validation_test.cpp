// engine_options and listen_options are range-checked before anything is built from them: each
// field out of range is refused with std::invalid_argument naming it; the documented "0 means
// default" values and the defaults themselves pass. Platform-neutral (also in the native build).
#include "core/options_validation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>

namespace wire::detail {
namespace {

using namespace std::chrono_literals;

// The message validate() threw for `change` applied to the defaults, or "" when it accepted it.
std::string refusal(const std::function<void(engine_options&)>& change) {
    engine_options o;
    change(o);
    try {
        validate(o);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

std::string listen_refusal(const std::function<void(listen_options&)>& change) {
    listen_options o;
    change(o);
    try {
        validate(o);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

TEST(OptionsValidation, DefaultsAndDocumentedZerosPass) {
    EXPECT_NO_THROW(validate(engine_options{}));
    EXPECT_NO_THROW(validate(listen_options{}));
    EXPECT_EQ(refusal([](engine_options& o) { o.worker_threads = 0; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.send_queue_low_water = 0; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.max_buffered_bytes = 0; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.send_queue_guaranteed = 0; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.idle_timeout = 0ms; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.close_timeout = 0ms; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.stop_timeout = 0ms; }), "");
    EXPECT_EQ(listen_refusal([](listen_options& o) { o.backlog = 0; }), "");
}

TEST(OptionsValidation, BoundsAreInclusive) {
    EXPECT_EQ(refusal([](engine_options& o) { o.worker_threads = 1024; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.dequeue_batch = 1; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.dequeue_batch = 1024; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive_buffer_size = 512; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive_buffer_size = 16U << 20U; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.send_queue_low_water = o.send_queue_cap - 1; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.send_queue_guaranteed = o.send_queue_cap; }), "");
    EXPECT_EQ(refusal([](engine_options& o) {
                  o.send_queue_cap = 1;
                  o.send_queue_guaranteed = 1;
              }),
              "");
    EXPECT_EQ(refusal([](engine_options& o) { o.max_connections = 1; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.connect_timeout = 1ms; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.max_inline_completions = 1; }), "");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive_park_after = 1ms; }), "");
    // "Practically never" is accepted: deadlines saturate (core/saturating_time.h).
    EXPECT_EQ(refusal([](engine_options& o) {
                  o.connect_timeout = std::chrono::milliseconds::max();
                  o.close_timeout = std::chrono::milliseconds::max();
                  o.idle_timeout = std::chrono::milliseconds::max();
                  o.stop_timeout = std::chrono::milliseconds::max();
                  o.receive_park_after = std::chrono::milliseconds::max();
              }),
              "");
    EXPECT_EQ(listen_refusal([](listen_options& o) { o.pending_accepts = 1; }), "");
    EXPECT_EQ(listen_refusal([](listen_options& o) { o.pending_accepts = 1024; }), "");
}

TEST(OptionsValidation, EachFieldOutOfRangeIsNamed) {
    EXPECT_EQ(refusal([](engine_options& o) { o.dequeue_batch = 0; }),
              "engine_options::dequeue_batch must be 1..1024, got 0");
    EXPECT_EQ(refusal([](engine_options& o) { o.dequeue_batch = 1025; }),
              "engine_options::dequeue_batch must be 1..1024, got 1025");
    EXPECT_EQ(refusal([](engine_options& o) { o.worker_threads = 1025; }),
              "engine_options::worker_threads must be 0 (one per logical processor) or 1..1024, got 1025");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive_buffer_size = 511; }),
              "engine_options::receive_buffer_size must be 512..16777216 (16 MiB), got 511");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive_buffer_size = (16U << 20U) + 1; }),
              "engine_options::receive_buffer_size must be 512..16777216 (16 MiB), got 16777217");
    EXPECT_EQ(refusal([](engine_options& o) {
                  o.send_queue_cap = 0;
                  o.send_queue_guaranteed = 0;
              }),
              "engine_options::send_queue_cap must be at least 1, got 0");
    EXPECT_EQ(refusal([](engine_options& o) { o.send_queue_low_water = o.send_queue_cap; }),
              "engine_options::send_queue_low_water must be 0 (send_queue_cap / 4) or below send_queue_cap "
              "(4194304), got 4194304");
    EXPECT_EQ(refusal([](engine_options& o) { o.send_queue_guaranteed = o.send_queue_cap + 1; }),
              "engine_options::send_queue_guaranteed must be at most send_queue_cap (4194304), got 4194305");
    EXPECT_EQ(refusal([](engine_options& o) { o.max_connections = 0; }),
              "engine_options::max_connections must be at least 1, got 0");
    EXPECT_EQ(refusal([](engine_options& o) { o.connect_timeout = 0ms; }),
              "engine_options::connect_timeout must be positive, got 0 ms");
    EXPECT_EQ(refusal([](engine_options& o) { o.connect_timeout = -5ms; }),
              "engine_options::connect_timeout must be positive, got -5 ms");
    EXPECT_EQ(refusal([](engine_options& o) { o.close_timeout = -1ms; }),
              "engine_options::close_timeout must be 0 (abort at once) or positive, got -1 ms");
    EXPECT_EQ(refusal([](engine_options& o) { o.idle_timeout = -1ms; }),
              "engine_options::idle_timeout must be 0 (never) or positive, got -1 ms");
    EXPECT_EQ(refusal([](engine_options& o) { o.stop_timeout = std::chrono::milliseconds::min(); }),
              "engine_options::stop_timeout must be 0 (abort at once) or positive, got " +
                  std::to_string(std::chrono::milliseconds::min().count()) + " ms");
    EXPECT_EQ(refusal([](engine_options& o) { o.max_inline_completions = 0; }),
              "engine_options::max_inline_completions must be at least 1, got 0");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive = static_cast<receive_mode>(7); }),
              "engine_options::receive must be adaptive, buffered or zero_byte, got 7");
    EXPECT_EQ(refusal([](engine_options& o) { o.receive_park_after = 0ms; }),
              "engine_options::receive_park_after must be positive, got 0 ms");
    EXPECT_EQ(listen_refusal([](listen_options& o) { o.pending_accepts = 0; }),
              "listen_options::pending_accepts must be 1..1024, got 0");
    EXPECT_EQ(listen_refusal([](listen_options& o) { o.pending_accepts = 1025; }),
              "listen_options::pending_accepts must be 1..1024, got 1025");
    EXPECT_EQ(listen_refusal([](listen_options& o) { o.backlog = -1; }),
              "listen_options::backlog must be 0 (SOMAXCONN) or positive, got -1");
}

}  // namespace
}  // namespace wire::detail
