// Loading credentials: from a PKCS#12 file or blob, or from a system certificate store.
#include <wire/tls.h>

#include "certificate.h"
#include "text.h"

#include <gsl/narrow>

#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace wire::tls {

namespace detail {

namespace {

[[noreturn]] void throw_last_error(const char* what) {
    // A failure that left no error behind (Wine's PFXImportCertStore with a wrong password) must
    // not read "Success": say the data was not usable.
    const DWORD error = GetLastError();
    throw std::system_error(static_cast<int>(error != 0 ? error : ERROR_INVALID_DATA), std::system_category(), what);
}

bool has_private_key(PCCERT_CONTEXT context) noexcept {
    DWORD size = 0;
    return CertGetCertificateContextProperty(context, CERT_KEY_PROV_INFO_PROP_ID, nullptr, &size) != FALSE;
}

// The certificate's key container, as CryptoAPI names it; none for a key held elsewhere.
void delete_key_container(PCCERT_CONTEXT context) noexcept {
    DWORD size = 0;
    if (CertGetCertificateContextProperty(context, CERT_KEY_PROV_INFO_PROP_ID, nullptr, &size) == FALSE || size == 0) {
        return;
    }
    std::vector<std::byte> storage(size);
    auto* info = reinterpret_cast<CRYPT_KEY_PROV_INFO*>(storage.data());
    if (CertGetCertificateContextProperty(context, CERT_KEY_PROV_INFO_PROP_ID, info, &size) == FALSE) {
        return;
    }
    // dwProvType 0 is a CNG key: PFXImportCertStore makes one only when asked (PKCS12_*_CNG_KSP),
    // which from_pfx does not.
    if (info->dwProvType == 0) {
        return;
    }
    HCRYPTPROV provider = 0;
    CryptAcquireContextW(&provider, info->pwszContainerName, info->pwszProvName, info->dwProvType,
                         CRYPT_DELETEKEYSET | (info->dwFlags & CRYPT_MACHINE_KEYSET));
}

unsigned hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return static_cast<unsigned>(c - '0');
    }
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower >= 'a' && lower <= 'f') {
        return static_cast<unsigned>(lower - 'a' + 10);
    }
    return 16;
}

// Hex digits to bytes; spaces and colons are separators. Empty on anything else.
std::vector<BYTE> parse_hex(std::string_view text) {
    std::vector<BYTE> bytes;
    unsigned high = 16;
    for (const char c : text) {
        if (c == ' ' || c == ':') {
            continue;
        }
        const unsigned digit = hex_digit(c);
        if (digit == 16) {
            return {};
        }
        if (high == 16) {
            high = digit;
        } else {
            bytes.push_back(static_cast<BYTE>(high * 16 + digit));
            high = 16;
        }
    }
    return high == 16 ? bytes : std::vector<BYTE>{};
}

unique_cert_store open_system_store(std::string_view store_name, credential::store_location location) {
    const std::wstring name = widen(store_name);
    const DWORD where = location == credential::store_location::local_machine ? CERT_SYSTEM_STORE_LOCAL_MACHINE
                                                                              : CERT_SYSTEM_STORE_CURRENT_USER;
    unique_cert_store store(CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                          where | CERT_STORE_OPEN_EXISTING_FLAG | CERT_STORE_READONLY_FLAG, name.c_str()));
    if (!store) {
        throw_last_error("wire::tls::credential: cannot open the certificate store");
    }
    return store;
}

// What a store search for the certificate with `what` found (or null), its key left where it is.
std::shared_ptr<const certificate> found_in_store(PCCERT_CONTEXT found, const std::string& what) {
    unique_cert_context owned(found);
    if (!owned) {
        throw std::system_error(make_error_code(error::certificate_not_found), "wire::tls::credential: no certificate with " + what);
    }
    if (!has_private_key(owned.get())) {
        throw std::system_error(make_error_code(error::no_private_key), "wire::tls::credential: the certificate with " + what);
    }
    return std::make_shared<const certificate>(std::move(owned), false);
}

}  // namespace

certificate::~certificate() {
    if (owns_key_container_) {
        delete_key_container(context_.get());
    }
}

std::string thumbprint_of(PCCERT_CONTEXT context) {
    std::array<BYTE, 20> hash{};
    DWORD size = gsl::narrow_cast<DWORD>(hash.size());
    if (CertGetCertificateContextProperty(context, CERT_SHA1_HASH_PROP_ID, hash.data(), &size) == FALSE) {
        return {};
    }
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string text;
    for (DWORD i = 0; i < size; ++i) {
        text += digits[hash[i] >> 4];
        text += digits[hash[i] & 0x0F];
    }
    return text;
}

bool thumbprint_matches(PCCERT_CONTEXT context, std::string_view thumbprint) {
    const std::vector<BYTE> wanted = parse_hex(thumbprint);
    std::array<BYTE, 20> hash{};
    DWORD size = gsl::narrow_cast<DWORD>(hash.size());
    if (wanted.size() != hash.size() ||
        CertGetCertificateContextProperty(context, CERT_SHA1_HASH_PROP_ID, hash.data(), &size) == FALSE) {
        return false;
    }
    return std::equal(wanted.begin(), wanted.end(), hash.begin());
}

}  // namespace detail

credential::credential(std::shared_ptr<const detail::certificate> certificate) noexcept
    : certificate_(std::move(certificate)) {}

credential credential::from_pfx_file(const std::filesystem::path& path, std::string_view password) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw std::system_error(std::make_error_code(std::errc::no_such_file_or_directory),
                                "wire::tls::credential: cannot open " + path.string());
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return from_pfx(gsl::as_bytes(gsl::span<const char>(bytes)), password);
}

credential credential::from_pfx(gsl::span<const std::byte> pfx, std::string_view password) {
    if (pfx.empty()) {
        throw std::invalid_argument("wire::tls::credential::from_pfx: the PKCS#12 data is empty");
    }
    CRYPT_DATA_BLOB blob{gsl::narrow<DWORD>(pfx.size()), const_cast<BYTE*>(reinterpret_cast<const BYTE*>(pfx.data()))};
    const std::wstring wide_password = detail::widen(password);
    // CRYPT_EXPORTABLE: Wine's SChannel hands the key to GnuTLS by exporting it; on Windows it
    // only allows what CryptExportKey allows, and the container is deleted with the credential.
    detail::unique_cert_store store(PFXImportCertStore(&blob, wide_password.c_str(), CRYPT_EXPORTABLE | CRYPT_USER_KEYSET));
    if (!store) {
        detail::throw_last_error("wire::tls::credential::from_pfx: PFXImportCertStore failed (wrong password or not PKCS#12)");
    }
    // CertFindCertificateInStore(CERT_FIND_HAS_PRIVATE_KEY) would do, but Wine lacks it: walk.
    PCCERT_CONTEXT chosen = nullptr;
    for (PCCERT_CONTEXT it = CertEnumCertificatesInStore(store.get(), nullptr); it != nullptr;
         it = CertEnumCertificatesInStore(store.get(), it)) {
        if (detail::has_private_key(it)) {
            chosen = CertDuplicateCertificateContext(it);
            CertFreeCertificateContext(it);
            break;
        }
    }
    if (chosen == nullptr) {
        throw std::system_error(make_error_code(error::no_private_key), "wire::tls::credential::from_pfx");
    }
    // Every key of the blob was imported; only the chosen certificate's is ours to delete later,
    // so delete the others' now.
    for (PCCERT_CONTEXT it = CertEnumCertificatesInStore(store.get(), nullptr); it != nullptr;
         it = CertEnumCertificatesInStore(store.get(), it)) {
        if (detail::has_private_key(it) && CertCompareCertificate(X509_ASN_ENCODING, it->pCertInfo, chosen->pCertInfo) == FALSE) {
            detail::delete_key_container(it);
        }
    }
    return credential(std::make_shared<const detail::certificate>(detail::unique_cert_context(chosen), true));
}

credential credential::from_store_thumbprint(std::string_view thumbprint, std::string_view store_name,
                                             store_location location) {
    std::vector<BYTE> hash = detail::parse_hex(thumbprint);
    if (hash.size() != 20) {
        throw std::invalid_argument("wire::tls::credential::from_store_thumbprint: a SHA-1 thumbprint is 40 hex digits");
    }
    const detail::unique_cert_store store = detail::open_system_store(store_name, location);
    CRYPT_HASH_BLOB blob{gsl::narrow_cast<DWORD>(hash.size()), hash.data()};
    return credential(detail::found_in_store(
        CertFindCertificateInStore(store.get(), X509_ASN_ENCODING, 0, CERT_FIND_SHA1_HASH, &blob, nullptr),
        "thumbprint " + std::string(thumbprint)));
}

credential credential::from_store_subject(std::string_view subject, std::string_view store_name, store_location location) {
    if (subject.empty()) {
        throw std::invalid_argument("wire::tls::credential::from_store_subject: the subject is empty");
    }
    const detail::unique_cert_store store = detail::open_system_store(store_name, location);
    const std::wstring wide = detail::widen(subject);
    return credential(detail::found_in_store(
        CertFindCertificateInStore(store.get(), X509_ASN_ENCODING, 0, CERT_FIND_SUBJECT_STR_W, wide.c_str(), nullptr),
        "a subject containing " + std::string(subject)));
}

std::string credential::thumbprint() const { return certificate_ ? detail::thumbprint_of(certificate_->get()) : std::string{}; }

std::string credential::subject() const {
    if (!certificate_) {
        return {};
    }
    CERT_NAME_BLOB* name = &certificate_->get()->pCertInfo->Subject;
    const DWORD length = CertNameToStrW(X509_ASN_ENCODING, name, CERT_X500_NAME_STR, nullptr, 0);
    std::wstring text(length, L'\0');
    CertNameToStrW(X509_ASN_ENCODING, name, CERT_X500_NAME_STR, text.data(), length);
    while (!text.empty() && text.back() == L'\0') {
        text.pop_back();
    }
    return detail::narrow(text);
}

}  // namespace wire::tls
