#pragma once
// The one place the TLS layer includes SSPI, SChannel and CryptoAPI, and the move-only owners of
// their handles (each frees with its own function, so none can be mistaken for another).
#include <wire/win32.h>

#ifndef SECURITY_WIN32
#define SECURITY_WIN32  // sspi.h serves kernel and user mode: say which
#endif
// SCH_CREDENTIALS (the only way to TLS 1.3) is declared only with SCHANNEL_USE_BLACKLISTS, and
// then needs UNICODE_STRING from subauth.h.
#ifndef SCHANNEL_USE_BLACKLISTS
#define SCHANNEL_USE_BLACKLISTS
#endif
#include <wincrypt.h>
#include <subauth.h>
#include <security.h>
#include <schannel.h>

#include <utility>

#ifdef _MSC_VER
#pragma comment(lib, "secur32.lib")
#pragma comment(lib, "crypt32.lib")
#endif

namespace wire::tls::detail {

// An SSPI handle pair (CredHandle or CtxtHandle) and whether it holds anything: SSPI has no
// invalid value of its own.
template <typename Handle, SECURITY_STATUS(SEC_ENTRY* Free)(Handle*)>
class unique_sspi_handle {
public:
    unique_sspi_handle() noexcept = default;
    unique_sspi_handle(const unique_sspi_handle&) = delete;
    unique_sspi_handle& operator=(const unique_sspi_handle&) = delete;
    unique_sspi_handle(unique_sspi_handle&& other) noexcept
        : handle_(other.handle_), valid_(std::exchange(other.valid_, false)) {}
    unique_sspi_handle& operator=(unique_sspi_handle&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = other.handle_;
            valid_ = std::exchange(other.valid_, false);
        }
        return *this;
    }
    ~unique_sspi_handle() { reset(); }

    void reset() noexcept {
        if (std::exchange(valid_, false)) {
            Free(&handle_);
        }
    }
    // For the call that fills it: mark_valid() once that call has succeeded.
    [[nodiscard]] Handle* put() noexcept { return &handle_; }
    void mark_valid() noexcept { valid_ = true; }
    // Null until valid: SSPI takes a null pointer for "no handle yet".
    [[nodiscard]] Handle* get() noexcept { return valid_ ? &handle_ : nullptr; }
    [[nodiscard]] Handle* get() const noexcept { return valid_ ? const_cast<Handle*>(&handle_) : nullptr; }
    explicit operator bool() const noexcept { return valid_; }

private:
    Handle handle_{};
    bool valid_ = false;
};

using unique_credentials = unique_sspi_handle<CredHandle, &FreeCredentialsHandle>;
using unique_security_context = unique_sspi_handle<CtxtHandle, &DeleteSecurityContext>;

// A buffer SSPI allocated (ISC_REQ_ALLOCATE_MEMORY and the attribute queries).
class context_buffer {
public:
    context_buffer() noexcept = default;
    explicit context_buffer(void* buffer) noexcept : buffer_(buffer) {}
    context_buffer(const context_buffer&) = delete;
    context_buffer& operator=(const context_buffer&) = delete;
    ~context_buffer() {
        if (buffer_ != nullptr) {
            FreeContextBuffer(buffer_);
        }
    }

private:
    void* buffer_ = nullptr;
};

// A CryptoAPI object (certificate context, store, chain) and the call that releases it.
template <typename Pointer, void (*Release)(Pointer) noexcept>
class unique_crypt_object {
public:
    unique_crypt_object() noexcept = default;
    explicit unique_crypt_object(Pointer object) noexcept : object_(object) {}
    unique_crypt_object(const unique_crypt_object&) = delete;
    unique_crypt_object& operator=(const unique_crypt_object&) = delete;
    unique_crypt_object(unique_crypt_object&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
    unique_crypt_object& operator=(unique_crypt_object&& other) noexcept {
        std::swap(object_, other.object_);
        return *this;
    }
    ~unique_crypt_object() {
        if (object_ != nullptr) {
            Release(object_);
        }
    }
    [[nodiscard]] Pointer get() const noexcept { return object_; }
    [[nodiscard]] Pointer* put() noexcept { return &object_; }
    explicit operator bool() const noexcept { return object_ != nullptr; }

private:
    Pointer object_ = nullptr;
};

inline void release_cert_context(PCCERT_CONTEXT context) noexcept { CertFreeCertificateContext(context); }
// Contexts taken from a store keep what they need of it.
inline void release_cert_store(HCERTSTORE store) noexcept { CertCloseStore(store, 0); }
inline void release_cert_chain(PCCERT_CHAIN_CONTEXT chain) noexcept { CertFreeCertificateChain(chain); }

using unique_cert_context = unique_crypt_object<PCCERT_CONTEXT, &release_cert_context>;
using unique_cert_store = unique_crypt_object<HCERTSTORE, &release_cert_store>;
using unique_cert_chain = unique_crypt_object<PCCERT_CHAIN_CONTEXT, &release_cert_chain>;

}  // namespace wire::tls::detail
