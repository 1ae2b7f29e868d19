#pragma once
// A certificate context with its private key, as credential (wire/tls.h) shares it.
//
// Ownership: the context holds its own reference to the store it came from. A certificate
// imported from a PKCS#12 owns the key container the import made, and deletes it when the last
// credential copy (and so the last server context and session using it) has gone: imported keys
// are not left behind in the user's profile.
#include "sspi.h"

#include <string>

namespace wire::tls::detail {

class certificate {
public:
    certificate(unique_cert_context context, bool owns_key_container) noexcept
        : context_(std::move(context)), owns_key_container_(owns_key_container) {}
    certificate(const certificate&) = delete;
    certificate& operator=(const certificate&) = delete;
    ~certificate();

    [[nodiscard]] PCCERT_CONTEXT get() const noexcept { return context_.get(); }

private:
    unique_cert_context context_;
    bool owns_key_container_;
};

// Upper-case hex SHA-1 of the certificate (its thumbprint), empty when it cannot be read.
[[nodiscard]] std::string thumbprint_of(PCCERT_CONTEXT context);
// Whether a certificate context's own thumbprint equals `thumbprint` (hex; spaces, colons and
// case ignored).
[[nodiscard]] bool thumbprint_matches(PCCERT_CONTEXT context, std::string_view thumbprint);

}  // namespace wire::tls::detail
