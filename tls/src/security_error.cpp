// The TLS layer's two error categories: its own conditions, and SChannel's SECURITY_STATUS values
// (with the certificate checks' HRESULTs) kept as they are, named and explained.
#include <wire/tls.h>

#include "sspi.h"
#include "text.h"

#include <array>
#include <cstdio>
#include <string>

namespace wire::tls {

namespace {

class tls_error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "wire.tls"; }
    [[nodiscard]] std::string message(int value) const override {
        switch (static_cast<error>(value)) {
        case error::handshake_timeout: return "TLS handshake timed out";
        case error::truncated_record: return "the peer closed the connection inside a TLS record";
        case error::record_too_large: return "the peer sent more than max_input_bytes without completing a TLS record";
        case error::certificate_not_found: return "no matching certificate in the store";
        case error::no_private_key: return "the certificate has no usable private key";
        case error::no_peer_certificate: return "the server presented no certificate";
        case error::pinned_certificate_mismatch: return "the server's certificate is not the one accept_thumbprint names";
        case error::not_tls: return "the peer does not speak TLS (its bytes are no TLS records)";
        }
        return "unknown wire.tls error";
    }
};

struct status_name {
    std::uint32_t value;
    const char* name;
};

// The values a TLS user meets; others are shown by number.
constexpr std::array known_statuses{
    status_name{0x80090302U, "SEC_E_UNSUPPORTED_FUNCTION"},
    status_name{0x80090304U, "SEC_E_INTERNAL_ERROR"},
    status_name{0x80090308U, "SEC_E_INVALID_TOKEN"},
    status_name{0x8009030CU, "SEC_E_LOGON_DENIED"},
    status_name{0x8009030DU, "SEC_E_UNKNOWN_CREDENTIALS"},
    status_name{0x8009030EU, "SEC_E_NO_CREDENTIALS"},
    status_name{0x8009030FU, "SEC_E_MESSAGE_ALTERED"},
    status_name{0x80090317U, "SEC_E_CONTEXT_EXPIRED"},
    status_name{0x80090318U, "SEC_E_INCOMPLETE_MESSAGE"},
    status_name{0x80090320U, "SEC_E_INCOMPLETE_CREDENTIALS"},
    status_name{0x80090321U, "SEC_E_BUFFER_TOO_SMALL"},
    status_name{0x80090322U, "SEC_E_WRONG_PRINCIPAL"},
    status_name{0x80090325U, "SEC_E_UNTRUSTED_ROOT"},
    status_name{0x80090326U, "SEC_E_ILLEGAL_MESSAGE"},
    status_name{0x80090327U, "SEC_E_CERT_UNKNOWN"},
    status_name{0x80090328U, "SEC_E_CERT_EXPIRED"},
    status_name{0x80090329U, "SEC_E_ENCRYPT_FAILURE"},
    status_name{0x80090330U, "SEC_E_DECRYPT_FAILURE"},
    status_name{0x80090331U, "SEC_E_ALGORITHM_MISMATCH"},
    status_name{0x80090349U, "SEC_E_CERT_WRONG_USAGE"},
    status_name{0x80090367U, "SEC_E_APPLICATION_PROTOCOL_MISMATCH"},
    status_name{0x800B0101U, "CERT_E_EXPIRED"},
    status_name{0x800B0109U, "CERT_E_UNTRUSTEDROOT"},
    status_name{0x800B010AU, "CERT_E_CHAINING"},
    status_name{0x800B010CU, "CERT_E_REVOKED"},
    status_name{0x800B010FU, "CERT_E_CN_NO_MATCH"},
    status_name{0x800B0110U, "CERT_E_WRONG_USAGE"},
    status_name{0x80092004U, "CRYPT_E_NOT_FOUND"},
    status_name{0x80092012U, "CRYPT_E_NO_REVOCATION_CHECK"},
    status_name{0x80092013U, "CRYPT_E_REVOCATION_OFFLINE"},
    status_name{0x80070056U, "ERROR_INVALID_PASSWORD"},
};

class security_error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "wire.tls.security"; }
    [[nodiscard]] std::string message(int value) const override {
        const auto code = static_cast<std::uint32_t>(value);
        std::array<char, 16> hex{};
        std::snprintf(hex.data(), hex.size(), "0x%08X", static_cast<unsigned>(code));
        std::string text;
        for (const status_name& known : known_statuses) {
            if (known.value == code) {
                text = std::string(known.name) + " (" + hex.data() + ")";
            }
        }
        if (text.empty()) {
            text = hex.data();
        }
        wchar_t* system_text = nullptr;
        const DWORD length = FormatMessageW(
            FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code,
            0, reinterpret_cast<wchar_t*>(&system_text), 0, nullptr);
        if (length > 0 && system_text != nullptr) {
            std::wstring wide(system_text, length);
            LocalFree(system_text);
            while (!wide.empty() && (wide.back() == L'\n' || wide.back() == L'\r' || wide.back() == L' ')) {
                wide.pop_back();
            }
            text += ": " + detail::narrow(wide);
        }
        return text;
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const tls_error_category category;
    return category;
}

const std::error_category& security_category() noexcept {
    static const security_error_category category;
    return category;
}

}  // namespace wire::tls
