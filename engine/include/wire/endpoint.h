#pragma once
// An IPv4 or IPv6 address and port, stored as the raw socket address so that this public
// header needs no Windows headers. Parsed from and printed as text ("127.0.0.1", "::1").
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace wire {

class endpoint {
public:
    endpoint() = default;

    // Parses a numeric IPv4 or IPv6 address (no name resolution). nullopt when it is not one.
    [[nodiscard]] static std::optional<endpoint> parse(std::string_view address, std::uint16_t port);
    // Blocking lookup of a host name (GetAddrInfoW), numeric addresses parsed without one: the
    // addresses in the system's order of preference, or none with `error` set (e.g.
    // WSAHOST_NOT_FOUND). For start-up code such as a server's listening address; connections
    // resolve without blocking through engine::connect(host, port, ...).
    [[nodiscard]] static std::vector<endpoint> resolve(std::string_view host, std::uint16_t port, std::error_code& error);
    [[nodiscard]] static endpoint loopback_v4(std::uint16_t port);
    [[nodiscard]] static endpoint loopback_v6(std::uint16_t port);
    [[nodiscard]] static endpoint any_v4(std::uint16_t port);
    [[nodiscard]] static endpoint any_v6(std::uint16_t port);

    [[nodiscard]] bool is_v6() const noexcept;
    [[nodiscard]] std::uint16_t port() const noexcept;
    [[nodiscard]] std::string address() const;     // "127.0.0.1" or "::1"
    [[nodiscard]] std::string to_string() const;   // "127.0.0.1:80" or "[::1]:80"

    // The raw sockaddr_in / sockaddr_in6 bytes, for the engine's Win32 side.
    [[nodiscard]] const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(storage_.data()); }
    [[nodiscard]] std::byte* data() noexcept { return reinterpret_cast<std::byte*>(storage_.data()); }
    [[nodiscard]] int size() const noexcept;
    static constexpr std::size_t capacity = 28;  // sizeof(sockaddr_in6)

    friend bool operator==(const endpoint& a, const endpoint& b) noexcept;

private:
    // 32-bit words give the 4-byte alignment sockaddr_in6 needs without alignas, which would pad
    // the class and make MSVC warn (C4324) in every file that includes this header.
    std::array<std::uint32_t, capacity / sizeof(std::uint32_t)> storage_{};
    static_assert(capacity % sizeof(std::uint32_t) == 0);
};

}  // namespace wire
