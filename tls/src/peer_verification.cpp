// Chain building (CertGetCertificateChain) and the SSL policy (CertVerifyCertificateChainPolicy
// with the server name), with the client options' extra roots and pinned certificate.
#include "peer_verification.h"

#include <gsl/narrow>

#include <string>

namespace wire::tls::detail {

namespace {

// SSL_EXTRA_CERT_CHAIN_POLICY_PARA::fdwChecks takes WinINet's flags; wininet.h itself is not wanted.
constexpr DWORD ignore_unknown_ca = 0x00000100;   // SECURITY_FLAG_IGNORE_UNKNOWN_CA
constexpr DWORD ignore_revocation = 0x00000080;   // SECURITY_FLAG_IGNORE_REVOCATION

std::error_code security_error(HRESULT value) noexcept { return {static_cast<int>(value), security_category()}; }

// Whether the chain's root is one of `roots` (compared by their encoded bytes).
bool root_is_in(PCCERT_CHAIN_CONTEXT chain, HCERTSTORE roots) noexcept {
    if (roots == nullptr || chain->cChain == 0 || chain->rgpChain[0]->cElement == 0) {
        return false;
    }
    const CERT_SIMPLE_CHAIN* simple = chain->rgpChain[0];
    const PCCERT_CONTEXT root = simple->rgpElement[simple->cElement - 1]->pCertContext;
    const PCCERT_CONTEXT match =
        CertFindCertificateInStore(roots, X509_ASN_ENCODING, 0, CERT_FIND_EXISTING, root, nullptr);
    if (match == nullptr) {
        return false;
    }
    CertFreeCertificateContext(match);
    return true;
}

}  // namespace

std::error_code verify_server_certificate(const credentials& credentials, PCCERT_CONTEXT peer,
                                          std::wstring_view server_name) {
    const client_options& options = credentials.client();
    if (!options.verify_certificate) {
        return {};
    }
    const bool pinned = !options.accept_thumbprint.empty();
    if (pinned && !thumbprint_matches(peer, options.accept_thumbprint)) {
        return make_error_code(error::pinned_certificate_mismatch);
    }

    // What the server sent (peer->hCertStore) with the extra roots, so the chain can reach them.
    unique_cert_store candidates(CertOpenStore(CERT_STORE_PROV_COLLECTION, 0, 0, 0, nullptr));
    if (!candidates) {
        return {static_cast<int>(GetLastError()), std::system_category()};
    }
    CertAddStoreToCollection(candidates.get(), peer->hCertStore, 0, 0);
    if (credentials.extra_roots() != nullptr) {
        CertAddStoreToCollection(candidates.get(), credentials.extra_roots(), 0, 0);
    }

    char server_auth[] = szOID_PKIX_KP_SERVER_AUTH;
    char* usages[] = {server_auth};
    CERT_CHAIN_PARA chain_para{};
    chain_para.cbSize = sizeof(chain_para);
    chain_para.RequestedUsage.dwType = USAGE_MATCH_TYPE_OR;
    chain_para.RequestedUsage.Usage.cUsageIdentifier = 1;
    chain_para.RequestedUsage.Usage.rgpszUsageIdentifier = usages;
    unique_cert_chain chain;
    if (CertGetCertificateChain(nullptr, peer, nullptr, candidates.get(), &chain_para, 0, nullptr, chain.put()) == FALSE) {
        return {static_cast<int>(GetLastError()), std::system_category()};
    }

    // An untrusted root is fine when the options trust it, or when the certificate is pinned.
    DWORD ignore = 0;
    const DWORD trust_errors = chain.get()->TrustStatus.dwErrorStatus;
    if ((trust_errors & (CERT_TRUST_IS_UNTRUSTED_ROOT | CERT_TRUST_IS_PARTIAL_CHAIN)) != 0 &&
        (pinned || root_is_in(chain.get(), credentials.extra_roots()))) {
        ignore |= ignore_unknown_ca;
    }
    // A test CA has no revocation list anywhere; revocation is not checked (no network calls on
    // the completion path), so its "unknown" states are not errors.
    ignore |= ignore_revocation;

    std::wstring name(server_name);
    SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl_para{};
    ssl_para.cbSize = sizeof(ssl_para);
    ssl_para.dwAuthType = AUTHTYPE_SERVER;
    ssl_para.fdwChecks = ignore;
    ssl_para.pwszServerName = name.data();
    CERT_CHAIN_POLICY_PARA policy_para{};
    policy_para.cbSize = sizeof(policy_para);
    policy_para.pvExtraPolicyPara = &ssl_para;
    CERT_CHAIN_POLICY_STATUS status{};
    status.cbSize = sizeof(status);
    if (CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain.get(), &policy_para, &status) == FALSE) {
        return {static_cast<int>(GetLastError()), std::system_category()};
    }
    if (status.dwError != 0) {
        return security_error(static_cast<HRESULT>(status.dwError));
    }
    // What the chain engine found that the policy let pass (Wine's policy passes a partial chain):
    // every trust error is refused here too, but for those the options chose to ignore.
    DWORD tolerated = CERT_TRUST_REVOCATION_STATUS_UNKNOWN | CERT_TRUST_IS_OFFLINE_REVOCATION;
    if ((ignore & ignore_unknown_ca) != 0) {
        tolerated |= CERT_TRUST_IS_UNTRUSTED_ROOT | CERT_TRUST_IS_PARTIAL_CHAIN;
    }
    const DWORD left = trust_errors & ~tolerated;
    if (left != 0) {
        if ((left & CERT_TRUST_IS_NOT_TIME_VALID) != 0) {
            return security_error(CERT_E_EXPIRED);
        }
        if ((left & CERT_TRUST_IS_REVOKED) != 0) {
            return security_error(CERT_E_REVOKED);
        }
        if ((left & CERT_TRUST_IS_NOT_VALID_FOR_USAGE) != 0) {
            return security_error(CERT_E_WRONG_USAGE);
        }
        if ((left & CERT_TRUST_IS_UNTRUSTED_ROOT) != 0) {
            return security_error(CERT_E_UNTRUSTEDROOT);
        }
        if ((left & CERT_TRUST_IS_NOT_SIGNATURE_VALID) != 0) {
            return security_error(TRUST_E_CERT_SIGNATURE);
        }
        return security_error(CERT_E_CHAINING);  // a partial or otherwise broken chain
    }
    return {};
}

}  // namespace wire::tls::detail
