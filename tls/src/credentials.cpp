// Acquiring SChannel credentials: SCH_CREDENTIALS where the system knows it (Windows 10 1809 and
// later; the only way to TLS 1.3), else SCHANNEL_CRED. TLS 1.2 is the floor either way.
#include "credentials.h"

#include <gsl/narrow>

#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace wire::tls::detail {

namespace {

constexpr DWORD old_protocols = SP_PROT_SSL2 | SP_PROT_SSL3 | SP_PROT_TLS1_0 | SP_PROT_TLS1_1;

void check_limits(const session_limits& limits, const char* side) {
    if (limits.handshake_timeout <= std::chrono::milliseconds::zero()) {
        throw std::invalid_argument(std::string("wire::tls::") + side + "::limits.handshake_timeout must be positive");
    }
    if (limits.max_input_bytes < 16 * 1024 || limits.max_input_bytes > 16 * 1024 * 1024) {
        throw std::invalid_argument(std::string("wire::tls::") + side + "::limits.max_input_bytes must be 16 KiB..16 MiB, got " +
                                    std::to_string(limits.max_input_bytes));
    }
}

// SEC_APPLICATION_PROTOCOLS holding one ALPN list: each name prefixed by its length.
std::vector<std::byte> alpn_payload(const std::vector<std::string>& protocols) {
    if (protocols.empty()) {
        return {};
    }
    std::vector<std::byte> names;
    for (const std::string& protocol : protocols) {
        if (protocol.empty() || protocol.size() > 255) {
            throw std::invalid_argument("wire::tls: an ALPN protocol name is 1..255 bytes, got \"" + protocol + "\"");
        }
        names.push_back(static_cast<std::byte>(protocol.size()));
        for (const char c : protocol) {
            names.push_back(static_cast<std::byte>(c));
        }
    }
    if (names.size() > 0xFFFF - 2) {
        throw std::invalid_argument("wire::tls: the ALPN list is longer than 65533 bytes");
    }
    const std::size_t list_offset = offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists);
    const std::size_t names_offset = offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtocolList);
    std::vector<std::byte> payload(list_offset + names_offset + names.size());
    const auto lists_size = gsl::narrow<unsigned long>(names_offset + names.size());
    const SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT extension = SecApplicationProtocolNegotiationExt_ALPN;
    const auto names_size = gsl::narrow<unsigned short>(names.size());
    std::memcpy(payload.data() + offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolListsSize), &lists_size, sizeof(lists_size));
    std::byte* list = payload.data() + list_offset;
    std::memcpy(list + offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtoNegoExt), &extension, sizeof(extension));
    std::memcpy(list + offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtocolListSize), &names_size, sizeof(names_size));
    std::memcpy(list + names_offset, names.data(), names.size());
    return payload;
}

}  // namespace

PCCERT_CONTEXT credentials::certificate_of(const credential& credential) noexcept {
    return credential.certificate_ ? credential.certificate_->get() : nullptr;
}

const session_limits& credentials::limits() const noexcept {
    return is_server() ? std::get<server_options>(options_).limits : std::get<client_options>(options_).limits;
}

std::shared_ptr<const credentials> credentials::for_server(server_options options) {
    if (!options.certificate) {
        throw std::invalid_argument("wire::tls::server_options::certificate is required");
    }
    check_limits(options.limits, "server_options");
    std::shared_ptr<credentials> made(new credentials());
    made->alpn_ = alpn_payload(options.alpn);
    const PCCERT_CONTEXT certificate = certificate_of(options.certificate);
    made->options_ = std::move(options);
    made->acquire(SECPKG_CRED_INBOUND, certificate);
    return made;
}

std::shared_ptr<const credentials> credentials::for_client(client_options options) {
    check_limits(options.limits, "client_options");
    std::shared_ptr<credentials> made(new credentials());
    made->alpn_ = alpn_payload(options.alpn);
    if (!options.trusted_roots.empty()) {
        made->roots_ = unique_cert_store(CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, CERT_STORE_CREATE_NEW_FLAG, nullptr));
        if (!made->roots_) {
            throw std::system_error(static_cast<int>(GetLastError()), std::system_category(), "wire::tls: CertOpenStore");
        }
        for (const std::vector<std::byte>& root : options.trusted_roots) {
            if (CertAddEncodedCertificateToStore(made->roots_.get(), X509_ASN_ENCODING,
                                                 reinterpret_cast<const BYTE*>(root.data()), gsl::narrow<DWORD>(root.size()),
                                                 CERT_STORE_ADD_ALWAYS, nullptr) == FALSE) {
                throw std::invalid_argument("wire::tls::client_options::trusted_roots: not a DER certificate");
            }
        }
    }
    made->options_ = std::move(options);
    made->acquire(SECPKG_CRED_OUTBOUND, nullptr);
    return made;
}

void credentials::acquire(ULONG usage, PCCERT_CONTEXT certificate) {
    const bool server = usage == SECPKG_CRED_INBOUND;
    // The client verifies the server itself (peer_verification.cpp): one policy on every Windows
    // and on Wine, whose SChannel does not check certificates at all.
    const DWORD flags = server ? SCH_USE_STRONG_CRYPTO
                               : SCH_USE_STRONG_CRYPTO | SCH_CRED_MANUAL_CRED_VALIDATION | SCH_CRED_NO_DEFAULT_CREDS;
    PCCERT_CONTEXT certificates[1] = {certificate};

    TLS_PARAMETERS parameters{};
    parameters.grbitDisabledProtocols = old_protocols;
    SCH_CREDENTIALS modern{};
    modern.dwVersion = SCH_CREDENTIALS_VERSION;
    modern.cCreds = certificate != nullptr ? 1 : 0;
    modern.paCred = certificate != nullptr ? certificates : nullptr;
    modern.dwFlags = flags;
    modern.cTlsParameters = 1;
    modern.pTlsParameters = &parameters;
    TimeStamp expiry{};
    SECURITY_STATUS status = AcquireCredentialsHandleW(nullptr, const_cast<wchar_t*>(UNISP_NAME_W), usage, nullptr, &modern,
                                                       nullptr, nullptr, handle_.put(), &expiry);
    if (status == SEC_E_OK) {
        handle_.mark_valid();
        return;
    }
    // Before Windows 10 1809 SChannel does not know SCH_CREDENTIALS: the older structure, which
    // names the protocols to enable rather than those to disable.
    SCHANNEL_CRED legacy{};
    legacy.dwVersion = SCHANNEL_CRED_VERSION;
    legacy.cCreds = modern.cCreds;
    legacy.paCred = modern.paCred;
    legacy.grbitEnabledProtocols = server ? SP_PROT_TLS1_2_SERVER : SP_PROT_TLS1_2_CLIENT;
    legacy.dwFlags = flags;
    status = AcquireCredentialsHandleW(nullptr, const_cast<wchar_t*>(UNISP_NAME_W), usage, nullptr, &legacy, nullptr,
                                       nullptr, handle_.put(), &expiry);
    if (status != SEC_E_OK) {
        throw std::system_error(static_cast<int>(status), security_category(),
                                "wire::tls: AcquireCredentialsHandle refused the credentials");
    }
    handle_.mark_valid();
}

}  // namespace wire::tls::detail
