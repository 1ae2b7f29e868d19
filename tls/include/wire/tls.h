#pragma once
// TLS on the engine's TCP connections through SChannel, the system's TLS: no third-party library,
// the Windows certificate store, the system's protocol and cipher policy.
//
// A TLS connection is a wire::connection like any other: the application's handler gets the same
// events with the plaintext, and send/close/post/after work as on a plain connection (the layer
// sits between them and the socket: wire/connection_layer.h). So an application switches by
// configuration: tls::listen instead of engine::listen, tls::connect instead of engine::connect.
// - on_open runs once the handshake has completed (and, on a client, the server's certificate
//   has passed verification). A handshake that fails or times out ends in on_close alone, with
//   the reason: an accepted TLS connection that never opens gets on_close without on_open, as a
//   failed connect does.
// - Bytes sent before on_open are kept (up to engine_options::send_queue_cap) and encrypted once
//   the handshake is done. queued_bytes() counts encrypted bytes.
// - close() sends close_notify, then closes gracefully; a peer's close_notify ends the connection
//   with error::end_of_stream, as its FIN does. A peer that closes inside a record ends it with
//   tls::error::truncated_record.
// Errors reach on_close as std::error_codes: SChannel's and the certificate checks' in
// security_category() with the SECURITY_STATUS or HRESULT as the value (0x80090302 is
// SEC_E_UNSUPPORTED_FUNCTION), the layer's own in error_category().
#include <wire/connection.h>
#include <wire/endpoint.h>
#include <wire/listener.h>
#include <wire/options.h>

#include <gsl/span>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace wire {
class engine;
}

namespace wire::tls {

namespace detail {
class certificate;
class credentials;
}  // namespace detail

enum class error {
    handshake_timeout = 1,  // the handshake did not complete within handshake_timeout
    truncated_record,       // the peer closed the connection inside a TLS record
    record_too_large,       // the peer sent more than max_input_bytes without completing a record
    certificate_not_found,  // no certificate in the store matched
    no_private_key,         // the certificate has no private key this process can use
    no_peer_certificate,    // the server presented no certificate to verify
    pinned_certificate_mismatch,  // client_options::accept_thumbprint named another certificate
    not_tls,                // the peer's first bytes are no TLS records (checked before SChannel sees them)
};

[[nodiscard]] const std::error_category& error_category() noexcept;
// SECURITY_STATUS (SEC_E_*) and certificate-check HRESULTs (CERT_E_*, TRUST_E_*), value kept;
// message() is "SEC_E_UNSUPPORTED_FUNCTION (0x80090302): " followed by the system's text.
[[nodiscard]] const std::error_category& security_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

// A certificate with its private key. Shared and copyable; the key stays usable while a copy
// lives (a server context keeps one). Loading throws std::system_error (security_category or
// std::system_category, or tls::error) with what failed, std::invalid_argument for bad arguments.
class credential {
public:
    enum class store_location { current_user, local_machine };

    credential() noexcept = default;  // empty: no certificate

    // PKCS#12 (.pfx / .p12) with its password. The first certificate that has a private key is
    // taken. Its key is imported into a key container for this process and deleted when the last
    // copy goes (SChannel's server side needs a key in a container, not one held in memory).
    [[nodiscard]] static credential from_pfx_file(const std::filesystem::path& path, std::string_view password);
    [[nodiscard]] static credential from_pfx(gsl::span<const std::byte> pfx, std::string_view password);
    // From the system store `store_name` ("MY": Personal) by SHA-1 thumbprint (hex; spaces and
    // colons ignored) or by a substring of the subject (the first match). The key stays where it is.
    [[nodiscard]] static credential from_store_thumbprint(std::string_view thumbprint, std::string_view store_name = "MY",
                                                          store_location location = store_location::current_user);
    [[nodiscard]] static credential from_store_subject(std::string_view subject, std::string_view store_name = "MY",
                                                       store_location location = store_location::current_user);

    [[nodiscard]] std::string thumbprint() const;  // SHA-1, upper-case hex
    [[nodiscard]] std::string subject() const;
    explicit operator bool() const noexcept { return certificate_ != nullptr; }

private:
    friend class detail::credentials;
    explicit credential(std::shared_ptr<const detail::certificate> certificate) noexcept;
    std::shared_ptr<const detail::certificate> certificate_;
};

// Limits common to both sides.
struct session_limits {
    // From the TCP connection's opening to on_open. Positive.
    std::chrono::milliseconds handshake_timeout{10'000};
    // Received bytes held while a record or handshake message is incomplete: a peer cannot make
    // a connection buffer more (error::record_too_large). 16 KiB..16 MiB; a TLS record is at most
    // 16 KiB + 2 KiB, a handshake flight with a long certificate chain may be longer.
    std::size_t max_input_bytes = 64 * 1024;
};

struct server_options {
    credential certificate;  // required
    // ALPN protocols this server speaks, most preferred first (empty: no ALPN).
    std::vector<std::string> alpn;
    session_limits limits;
};

struct client_options {
    // Verify the server: its chain to a trusted root (the system's, or trusted_roots) and its name
    // (the server name given to connect), and that it is valid now. Off only for tests and tools
    // (client.exe --insecure): then any certificate is accepted.
    bool verify_certificate = true;
    // Roots trusted for this context besides the system's (DER-encoded certificates).
    std::vector<std::vector<std::byte>> trusted_roots;
    // Accept exactly the certificate with this SHA-1 thumbprint (hex), whatever its chain: for a
    // self-signed certificate. Its name and validity period are still checked.
    std::string accept_thumbprint;
    // ALPN protocols offered, most preferred first (empty: no ALPN).
    std::vector<std::string> alpn;
    session_limits limits;
};

// Server side: the credentials are acquired once and shared by every connection it accepts.
// Throws std::system_error when SChannel refuses them, std::invalid_argument for bad options.
class server_context {
public:
    explicit server_context(server_options options);
    [[nodiscard]] const server_options& options() const noexcept;

private:
    friend class session_access;
    std::shared_ptr<const detail::credentials> credentials_;
};

class client_context {
public:
    explicit client_context(client_options options = {});
    [[nodiscard]] const client_options& options() const noexcept;

private:
    friend class session_access;
    std::shared_ptr<const detail::credentials> credentials_;
};

// engine::listen with TLS on every accepted connection.
[[nodiscard]] listener listen(engine& engine, const endpoint& local, handler_factory make_handler,
                              const server_context& context, listen_options options = {});
// engine::connect with TLS. `server_name` is sent as SNI and verified against the certificate;
// empty: the address's text. The ClientHello rides in the connect (ConnectEx's send buffer).
connection connect(engine& engine, const endpoint& remote, std::unique_ptr<connection_handler> handler,
                   const client_context& context, std::string_view server_name = {});
// By host name (UTF-8), which is also the server name.
connection connect(engine& engine, std::string_view host, std::uint16_t port,
                   std::unique_ptr<connection_handler> handler, const client_context& context);

// What the handshake settled.
struct session_info {
    std::string protocol;  // "TLSv1.2", "TLSv1.3", ...
    std::string cipher;    // e.g. "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", or the algorithms' names
    std::string alpn;      // the protocol ALPN chose, empty without
};
// A TLS connection's session once it has opened; empty before, or for a plain connection. Call
// from the connection's callbacks, posted work or timers (its layer lives until on_close returns).
[[nodiscard]] std::optional<session_info> info(const connection& conn);

}  // namespace wire::tls

template <>
struct std::is_error_code_enum<wire::tls::error> : std::true_type {};
