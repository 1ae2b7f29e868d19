// The engine's layer seam (wire/connection_layer.h) with a toy layer that XORs every byte: sends
// and closes go through the layer, the layer reaches the socket past itself, and admission
// refusals arm on_drained. wire::tls is the real user (tests/tls).
#include <wire/connection_layer.h>

#include "test_support.h"

namespace wire::test {
namespace {

constexpr std::byte mask{0x5A};

std::vector<std::byte> masked(gsl::span<const std::byte> data) {
    std::vector<std::byte> out(data.begin(), data.end());
    for (std::byte& b : out) {
        b ^= mask;
    }
    return out;
}

class xor_layer final : public connection_layer {
public:
    explicit xor_layer(std::unique_ptr<connection_handler> application) : application_(std::move(application)) {}
    void on_open(connection& c) override { application_->on_open(c); }
    void on_data(connection& c, gsl::span<const std::byte> data) override { application_->on_data(c, masked(data)); }
    void on_drained(connection& c) override {
        ++drained;
        application_->on_drained(c);
    }
    void on_close(connection& c, std::error_code reason) override { application_->on_close(c, reason); }
    std::error_code send(const connection& c, gsl::span<const std::byte> data) noexcept override {
        ++sends;
        if (const std::error_code refused = admit_unlayered(c, data.size()); refused) {
            return refused;
        }
        return send_unlayered(c, masked(data), true);
    }
    void close(const connection& c) noexcept override {
        static_cast<void>(send_unlayered(c, as_bytes(std::string("BYE"))));  // the layer's goodbye, unmasked
        close_unlayered(c);
    }
    static inline std::atomic<int> sends{0};
    static inline std::atomic<int> drained{0};

private:
    std::unique_ptr<connection_handler> application_;
};

TEST(ConnectionLayer, SendAndCloseGoThroughTheLayerAndItsBytesReachTheWire) {
    engine e;
    auto wire_side = std::make_shared<recorder>();
    listener l = e.listen(endpoint::loopback_v4(0), [&] { return std::make_unique<recording_handler>(wire_side); });
    auto app = std::make_shared<recorder>();
    connection c = e.connect(l.local_endpoint(), std::make_unique<xor_layer>(std::make_unique<recording_handler>(app)));
    ASSERT_TRUE(eventually([&] { return c.is_open(); }));
    EXPECT_NE(connection_layer::of(c), nullptr);
    const std::string hello = "hello through a layer";
    ASSERT_FALSE(c.send(as_bytes(hello)));
    c.close();
    ASSERT_TRUE(eventually([&] { return wire_side->is_closed() && app->is_closed(); }));
    std::vector<std::byte> expected = masked(as_bytes(hello));
    const std::string bye = "BYE";
    expected.insert(expected.end(), as_bytes(bye).begin(), as_bytes(bye).end());
    std::lock_guard lock(wire_side->mutex);
    EXPECT_TRUE(wire_side->received == expected);
    // Closed: send reports it without reaching the layer (whose handler may be gone).
    const int sends_before = xor_layer::sends.load();
    EXPECT_EQ(c.send(as_bytes(hello)), error::not_connected);
    EXPECT_EQ(xor_layer::sends.load(), sends_before);
    c = {};
    expect_stopped_clean(e);  // the layer went with its connection
}

TEST(ConnectionLayer, ReceivedBytesReachTheApplicationThroughTheLayer) {
    engine e;
    listener l = e.listen(endpoint::loopback_v4(0), echo_factory());
    auto app = std::make_shared<recorder>();
    const connection c = e.connect(l.local_endpoint(),
                                   std::make_unique<xor_layer>(std::make_unique<recording_handler>(app)));
    ASSERT_TRUE(eventually([&] { return c.is_open(); }));
    const std::vector<std::byte> data = random_bytes(100'000, 9);
    ASSERT_FALSE(c.send(data));
    ASSERT_TRUE(eventually([&] { return app->received_size() >= data.size(); }));
    std::lock_guard lock(app->mutex);
    EXPECT_TRUE(app->received == data);  // masked on the way out, echoed, unmasked on the way in
}

TEST(ConnectionLayer, AnAdmissionRefusedAtTheCapArmsOnDrained) {
    engine_options options;
    options.send_queue_cap = 64 * 1024;
    engine e(options);
    raw_listener peer;  // reads nothing until asked
    auto app = std::make_shared<recorder>();
    const connection c = e.connect(peer.address(), std::make_unique<xor_layer>(std::make_unique<recording_handler>(app)));
    const SOCKET accepted = peer.accept_one();
    ASSERT_NE(accepted, INVALID_SOCKET);
    ASSERT_TRUE(eventually([&] { return c.is_open(); }));
    const std::vector<std::byte> chunk = random_bytes(16 * 1024, 4);
    std::error_code refused;
    for (int i = 0; i < 100'000 && !refused; ++i) {
        refused = c.send(chunk);  // TCP's buffers fill, then the queue reaches the cap
    }
    ASSERT_EQ(refused, error::send_queue_full);
    EXPECT_LE(c.queued_bytes(), options.send_queue_cap + chunk.size());
    const int drained_before = xor_layer::drained.load();
    // The peer reads: the queue falls to its low-water mark. Each read waits at most 5 s.
    const DWORD wait_ms = 5000;
    ::setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&wait_ms), sizeof(wait_ms));
    std::vector<char> sink(64 * 1024);
    while (xor_layer::drained.load() == drained_before &&
           ::recv(accepted, sink.data(), static_cast<int>(sink.size()), 0) > 0) {
    }
    EXPECT_GT(xor_layer::drained.load(), drained_before);
    ::closesocket(accepted);
}

}  // namespace
}  // namespace wire::test
