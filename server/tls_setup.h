#pragma once
// --tls: the server's TLS context (wire::tls over SChannel) and the accounting of its handshakes.
// The modes' handlers are the same as without TLS: wire::tls::listen puts the layer beneath them.
#include <wire/options.h>
#include <wire/tls.h>

#include "server_counters.h"
#include "server_options.h"

namespace wire::server {

// Loads the certificate of --cert (PKCS#12 file and password) or --cert-thumbprint (CurrentUser\MY)
// and acquires SChannel's server credentials with it. Throws std::runtime_error whose what() names
// the certificate's source and gives the library's reason (a SECURITY_STATUS or system error by
// name); main reports it as a set-up failure (exit 1).
[[nodiscard]] tls::server_context make_tls_context(const options::tls_settings& settings);

// The factory's handlers, each inside one that counts the TLS handshakes: a connection whose
// on_open comes completed one; one that closes without it failed its handshake, which is logged
// through the rejection log with the peer and the reason. `counters` outlives the listener.
[[nodiscard]] handler_factory count_handshakes(handler_factory make_handler, server_counters& counters);

}  // namespace wire::server
