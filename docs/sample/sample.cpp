// A complete program using only the engine's public headers: an echo server on a free loopback
// port, a client connection that sends a greeting and prints the echo, then a graceful shutdown.
#include <wire/wire.h>

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
    explicit greeter(std::promise<std::string>& reply) : reply_(reply) {}
    void on_open(wire::connection& c) override { (void)c.send(gsl::as_bytes(gsl::span(greeting_))); }
    void on_data(wire::connection& c, gsl::span<const std::byte> data) override {
        received_.append(reinterpret_cast<const char*>(data.data()), data.size());
        if (received_.size() == greeting_.size()) {
            reply_.set_value(received_);
            c.close();
        }
    }

private:
    const std::string greeting_ = "hello, completion port";
    std::string received_;
    std::promise<std::string>& reply_;
};

}  // namespace

int main() {
    wire::engine engine;
    const wire::listener server = engine.listen(wire::endpoint::loopback_v4(0), [] { return std::make_unique<echo>(); });
    std::promise<std::string> reply;
    engine.connect(server.local_endpoint(), std::make_unique<greeter>(reply));
    std::cout << "echoed by " << server.local_endpoint().to_string() << ": " << reply.get_future().get() << "\n";
}
