// What a finished handshake settled, in the names a log or a JSON summary wants.
#include "session_info.h"

#include "text.h"

#include <algorithm>
#include <string>

namespace wire::tls::detail {

namespace {

std::string protocol_name(DWORD protocol) {
    // Under Wine a server reports the client's flag: test both halves.
    if ((protocol & SP_PROT_TLS1_3) != 0) {
        return "TLSv1.3";
    }
    if ((protocol & SP_PROT_TLS1_2) != 0) {
        return "TLSv1.2";
    }
    if ((protocol & SP_PROT_TLS1_1) != 0) {
        return "TLSv1.1";
    }
    if ((protocol & SP_PROT_TLS1_0) != 0) {
        return "TLSv1.0";
    }
    return "unknown";
}

std::string algorithm_name(ALG_ID id) {
    switch (id) {
    case CALG_AES_128: return "AES-128";
    case CALG_AES_256: return "AES-256";
    case CALG_AES: return "AES";
    case CALG_3DES: return "3DES";
    case CALG_RC4: return "RC4";
    case CALG_SHA1: return "SHA1";
    case CALG_SHA_256: return "SHA256";
    case CALG_SHA_384: return "SHA384";
    case CALG_SHA_512: return "SHA512";
    case CALG_RSA_KEYX: return "RSA";
    case CALG_DH_EPHEM: return "DHE";
    case CALG_ECDH: return "ECDH";
    case CALG_ECDH_EPHEM: return "ECDHE";
    default: return "ALG_" + std::to_string(id);
    }
}

}  // namespace

session_info describe_session(CtxtHandle& context, bool alpn_offered) {
    session_info info;
    SecPkgContext_ConnectionInfo connection_info{};
    if (QueryContextAttributesW(&context, SECPKG_ATTR_CONNECTION_INFO, &connection_info) == SEC_E_OK) {
        info.protocol = protocol_name(connection_info.dwProtocol);
        info.cipher = algorithm_name(connection_info.aiExch) + "-" + algorithm_name(connection_info.aiCipher) + "-" +
                      algorithm_name(connection_info.aiHash);
    }
    SecPkgContext_CipherInfo cipher_info{};
    if (QueryContextAttributesW(&context, SECPKG_ATTR_CIPHER_INFO, &cipher_info) == SEC_E_OK) {
        // Wine 8 names some suites only in part ("..._GCM_<unknown>"): keep the algorithms then.
        const std::string suite = narrow(cipher_info.szCipherSuite);
        if (!suite.empty() && suite.find('<') == std::string::npos) {
            info.cipher = suite;
        }
    }
    SecPkgContext_ApplicationProtocol alpn{};
    if (alpn_offered &&
        QueryContextAttributesW(&context, SECPKG_ATTR_APPLICATION_PROTOCOL, &alpn) == SEC_E_OK &&
        alpn.ProtoNegoStatus == SecApplicationProtocolNegotiationStatus_Success) {
        const auto* id = reinterpret_cast<const char*>(alpn.ProtocolId);
        info.alpn.assign(id, std::min<std::size_t>(alpn.ProtocolIdSize, sizeof(alpn.ProtocolId)));
    }
    return info;
}

}  // namespace wire::tls::detail
