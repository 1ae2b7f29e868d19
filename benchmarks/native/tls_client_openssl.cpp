// The native driver's TLS client (../net.h, make_tls_client): OpenSSL over the driver's own
// sockets, the client end of the TLS rows (`--serve engine-tls`, wire::tls on SChannel under Wine).
// OpenSSL runs natively, so the client's handshake and record work never reaches the wineserver.
//
// The server's certificate is not verified (SSL_VERIFY_NONE): the certificate is a test one made
// at run time, and what the rows measure is the records after the handshake, which no window
// includes. The protocol is whatever both sides settle on (TLS 1.2 against Wine's SChannel).
#include "../net.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>

namespace wire::bench::net {

namespace {

// OpenSSL's error queue as text (and emptied), or `fallback` when it is empty.
std::string openssl_errors(std::string_view fallback) {
    std::string text;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(e, buffer, sizeof(buffer));
        text += (text.empty() ? "" : "; ") + std::string(buffer);
    }
    return text.empty() ? std::string(fallback) : text;
}

struct ssl_ctx_free {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
struct ssl_free {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

bool set_timeouts(int fd, std::chrono::milliseconds limit) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(limit.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((limit.count() % 1000) * 1000);
    return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
           ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0;
}

class openssl_stream final : public stream {
public:
    explicit openssl_stream(std::unique_ptr<SSL, ssl_free> ssl) noexcept : ssl_(std::move(ssl)) {}

    io_result send_some(const std::byte* data, std::size_t size) override {
        ERR_clear_error();
        const int n = SSL_write(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
        if (n > 0) {
            return {io_result::kind::done, static_cast<std::size_t>(n), {}};
        }
        return failed("SSL_write", n);
    }

    io_result receive_some(std::byte* data, std::size_t size) override {
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
        if (n > 0) {
            return {io_result::kind::done, static_cast<std::size_t>(n), {}};
        }
        return failed("SSL_read", n);
    }

    std::string description() const override {
        const char* cipher = SSL_get_cipher_name(ssl_.get());
        return std::string(SSL_get_version(ssl_.get())) + " " + (cipher != nullptr ? cipher : "?");
    }

private:
    io_result failed(std::string_view call, int n) {
        switch (SSL_get_error(ssl_.get(), n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            // Nothing to read yet, or the socket's buffer is full. (A renegotiation, which SChannel
            // does not start on its own, could make a read wait for writability: not expected here.)
            return {io_result::kind::would_block, 0, {}};
        case SSL_ERROR_ZERO_RETURN:  // the server's close_notify
            return {io_result::kind::closed, 0, {}};
        case SSL_ERROR_SYSCALL:
            if (errno == 0) {
                return {io_result::kind::closed, 0, {}};  // end of stream without close_notify
            }
            return {io_result::kind::failed, 0,
                    std::string(call) + " failed (" + std::to_string(errno) + ": " + std::strerror(errno) + ")"};
        default:
            return {io_result::kind::failed, 0, std::string(call) + " failed: " + openssl_errors("no detail")};
        }
    }

    std::unique_ptr<SSL, ssl_free> ssl_;
};

class openssl_client final : public tls_client {
public:
    explicit openssl_client(std::unique_ptr<SSL_CTX, ssl_ctx_free> ctx) noexcept : ctx_(std::move(ctx)) {}

    std::unique_ptr<stream> open(const socket& s, std::chrono::milliseconds limit, std::string& problem) override {
        ERR_clear_error();
        std::unique_ptr<SSL, ssl_free> ssl(SSL_new(ctx_.get()));
        if (!ssl || SSL_set_fd(ssl.get(), s.get()) != 1) {
            problem = "SSL_new: " + openssl_errors("failed");
            return nullptr;
        }
        // The handshake blocks, each socket wait bounded; the driver makes the socket
        // non-blocking afterwards, for the records.
        if (!set_timeouts(s.get(), limit)) {
            problem = "cannot set the handshake's timeouts";
            return nullptr;
        }
        errno = 0;
        const int done = SSL_connect(ssl.get());
        if (done != 1) {
            const int error = SSL_get_error(ssl.get(), done);
            problem = "TLS handshake failed (SSL_connect: " +
                      (error == SSL_ERROR_SYSCALL
                           ? (errno == 0 ? std::string("the server closed the connection")
                                         : std::string(std::strerror(errno)))
                           : openssl_errors("error " + std::to_string(error))) +
                      ")";
            return nullptr;
        }
        return std::make_unique<openssl_stream>(std::move(ssl));
    }

private:
    std::unique_ptr<SSL_CTX, ssl_ctx_free> ctx_;
};

}  // namespace

std::shared_ptr<tls_client> make_tls_client(std::string& problem) {
    // OpenSSL writes to its sockets with write(): a server that went away must be an error to
    // report, not a SIGPIPE that ends the driver (the plain path sends with MSG_NOSIGNAL).
    static std::once_flag ignore_sigpipe;
    std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });

    std::unique_ptr<SSL_CTX, ssl_ctx_free> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        problem = "SSL_CTX_new: " + openssl_errors("failed");
        return nullptr;
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    // The driver retries a write that would block with the same bytes, but the pointer may have
    // moved in between; a partial write is a send that took part of the message, as with send().
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return std::make_shared<openssl_client>(std::move(ctx));
}

}  // namespace wire::bench::net
