#pragma once
// The negotiated protocol, cipher suite and ALPN protocol of an established SChannel context.
#include <wire/tls.h>

#include "sspi.h"

namespace wire::tls::detail {

// Reads the context's attributes (the caller serialises SSPI calls on it). The cipher is the
// suite's name, or its algorithms' names where SChannel has none (Wine 8: "..._<unknown>").
[[nodiscard]] session_info describe_session(CtxtHandle& context, bool alpn_offered);

}  // namespace wire::tls::detail
