#pragma once
// The client's check of the server's certificate, done by the layer itself (the credentials ask
// SChannel for manual validation): the same policy on every Windows version and on Wine, whose
// SChannel checks nothing.
#include "credentials.h"
#include "sspi.h"

#include <string_view>
#include <system_error>

namespace wire::tls::detail {

// Empty when `peer` may be trusted as `server_name` under the client options: its chain ends in a
// trusted root (the system's, or one of trusted_roots), or it is the accept_thumbprint
// certificate; it is valid now; it names `server_name` (DNS name or address). Otherwise the
// CERT_E_* / TRUST_E_* HRESULT in security_category(), or a tls::error.
[[nodiscard]] std::error_code verify_server_certificate(const credentials& credentials, PCCERT_CONTEXT peer,
                                                        std::wstring_view server_name);

}  // namespace wire::tls::detail
