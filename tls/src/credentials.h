#pragma once
// SChannel credentials acquired once per context (server or client) and shared by its sessions,
// with what the sessions read from the options: the ALPN list in SChannel's format, the limits.
//
// Ownership: each session holds a shared_ptr, so the CredHandle (and the certificate, with its
// key container) lives until the last connection made with the context has finished.
#include <wire/tls.h>

#include "certificate.h"
#include "sspi.h"

#include <cstddef>
#include <memory>
#include <variant>
#include <vector>

namespace wire::tls::detail {

class credentials {
public:
    [[nodiscard]] static std::shared_ptr<const credentials> for_server(server_options options);
    [[nodiscard]] static std::shared_ptr<const credentials> for_client(client_options options);

    [[nodiscard]] bool is_server() const noexcept { return std::holds_alternative<server_options>(options_); }
    [[nodiscard]] const server_options& server() const { return std::get<server_options>(options_); }
    [[nodiscard]] const client_options& client() const { return std::get<client_options>(options_); }
    [[nodiscard]] const session_limits& limits() const noexcept;
    // SSPI takes the handle by non-const pointer but does not change it.
    [[nodiscard]] CredHandle* handle() const noexcept { return handle_.get(); }
    // A SECBUFFER_APPLICATION_PROTOCOLS payload (SEC_APPLICATION_PROTOCOLS), empty without ALPN.
    [[nodiscard]] gsl::span<const std::byte> alpn() const noexcept { return alpn_; }
    // The trusted_roots as an in-memory store (client), or null.
    [[nodiscard]] HCERTSTORE extra_roots() const noexcept { return roots_.get(); }
    // The certificate a credential holds (credential befriends this class for it).
    [[nodiscard]] static PCCERT_CONTEXT certificate_of(const credential& credential) noexcept;

private:
    credentials() : options_(client_options{}) {}
    void acquire(ULONG usage, PCCERT_CONTEXT certificate);

    std::variant<server_options, client_options> options_;
    unique_credentials handle_;
    std::vector<std::byte> alpn_;
    unique_cert_store roots_;
};

}  // namespace wire::tls::detail
