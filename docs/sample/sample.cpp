// A complete program using only the engine's public headers: an echo server on a free loopback
// port; a client that connects by name with its greeting riding in the connect, guards the reply
// with a per-connection timer, and hands the result back through posted work; a periodic timer
// ticking on the engine's workers meanwhile; then a graceful shutdown.
#include <wire/wire.h>

#include <atomic>
#include <future>
#include <iostream>
#include <string>

namespace {

class echo : public wire::connection_handler {
    void on_data(wire::connection& c, gsl::span<const std::byte> data) override {
        if (const std::error_code ec = c.send(data)) {  // copied; returns at once
            c.abort(ec);
        }
    }
};

class greeter : public wire::connection_handler {
public:
    greeter(std::size_t expected, std::promise<std::string>& reply) : expected_(expected), reply_(reply) {}
    void on_open(wire::connection& c) override {
        // Runs serialised with this connection's callbacks and dies with it: no lock needed.
        deadline_ = c.after(std::chrono::seconds(5), [](wire::connection& conn) { conn.abort(wire::error::timed_out); });
    }
    void on_data(wire::connection& c, gsl::span<const std::byte> data) override {
        received_.append(reinterpret_cast<const char*>(data.data()), data.size());
        if (received_.size() == expected_) {
            deadline_.cancel();
            // Posted work runs on a worker, after this callback and before on_close.
            (void)c.post([this](wire::connection& conn) {
                reply_.set_value(received_);
                conn.close();
            });
        }
    }
    void on_close(wire::connection&, std::error_code reason) override {
        if (received_.size() != expected_) {
            reply_.set_value("no reply: " + reason.message());
        }
    }

private:
    const std::size_t expected_;
    std::string received_;
    std::promise<std::string>& reply_;
    wire::timer deadline_;
};

}  // namespace

int main() {
    wire::engine engine;
    std::atomic<int> ticks{0};
    const wire::timer heartbeat = engine.every(std::chrono::milliseconds(10), [&ticks] { ++ticks; });

    const wire::listener server = engine.listen(wire::endpoint::loopback_v4(0), [] { return std::make_unique<echo>(); });
    const std::string greeting = "hello, completion port";
    std::promise<std::string> reply;
    engine.connect("localhost", server.local_endpoint().port(), std::make_unique<greeter>(greeting.size(), reply),
                   gsl::as_bytes(gsl::span(greeting)));  // sent with the connect itself
    std::cout << "echoed by " << server.local_endpoint().to_string() << ": " << reply.get_future().get() << "\n";
    heartbeat.cancel();
    std::cout << "heartbeat ticks meanwhile: " << ticks.load() << "\n";
}
