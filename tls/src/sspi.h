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

class unique_cert_context {
public:
    unique_cert_context() noexcept = default;
    explicit unique_cert_context(PCCERT_CONTEXT context) noexcept : context_(context) {}
    unique_cert_context(const unique_cert_context&) = delete;
    unique_cert_context& operator=(const unique_cert_context&) = delete;
    unique_cert_context(unique_cert_context&& other) noexcept : context_(std::exchange(other.context_, nullptr)) {}
    unique_cert_context& operator=(unique_cert_context&& other) noexcept {
        std::swap(context_, other.context_);
        return *this;
    }
    ~unique_cert_context() {
        if (context_ != nullptr) {
            CertFreeCertificateContext(context_);
        }
    }
    [[nodiscard]] PCCERT_CONTEXT get() const noexcept { return context_; }
    [[nodiscard]] PCCERT_CONTEXT* put() noexcept { return &context_; }
    explicit operator bool() const noexcept { return context_ != nullptr; }

private:
    PCCERT_CONTEXT context_ = nullptr;
};

class unique_cert_store {
public:
    unique_cert_store() noexcept = default;
    explicit unique_cert_store(HCERTSTORE store) noexcept : store_(store) {}
    unique_cert_store(const unique_cert_store&) = delete;
    unique_cert_store& operator=(const unique_cert_store&) = delete;
    unique_cert_store(unique_cert_store&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}
    unique_cert_store& operator=(unique_cert_store&& other) noexcept {
        std::swap(store_, other.store_);
        return *this;
    }
    ~unique_cert_store() {
        if (store_ != nullptr) {
            CertCloseStore(store_, 0);  // contexts taken from it keep what they need
        }
    }
    [[nodiscard]] HCERTSTORE get() const noexcept { return store_; }
    explicit operator bool() const noexcept { return store_ != nullptr; }

private:
    HCERTSTORE store_ = nullptr;
};

class unique_cert_chain {
public:
    unique_cert_chain() noexcept = default;
    unique_cert_chain(const unique_cert_chain&) = delete;
    unique_cert_chain& operator=(const unique_cert_chain&) = delete;
    ~unique_cert_chain() {
        if (chain_ != nullptr) {
            CertFreeCertificateChain(chain_);
        }
    }
    [[nodiscard]] PCCERT_CHAIN_CONTEXT get() const noexcept { return chain_; }
    [[nodiscard]] PCCERT_CHAIN_CONTEXT* put() noexcept { return &chain_; }

private:
    PCCERT_CHAIN_CONTEXT chain_ = nullptr;
};

}  // namespace wire::tls::detail
