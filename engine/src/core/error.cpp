#include <wire/error.h>

#include <string>

namespace wire {

namespace {

class engine_error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "wire"; }

    [[nodiscard]] std::string message(int value) const override {
        switch (static_cast<error>(value)) {
        case error::end_of_stream: return "end of stream: the peer closed the connection";
        case error::aborted: return "connection aborted locally";
        case error::timed_out: return "timed out";
        case error::engine_stopped: return "the engine stopped";
        case error::send_queue_full: return "send queue full";
        case error::not_connected: return "not connected";
        case error::too_many_connections: return "too many connections";
        case error::protocol_error: return "protocol error";
        case error::idle_timeout: return "idle timeout";
        }
        return "unknown wire error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const engine_error_category category;
    return category;
}

}  // namespace wire
