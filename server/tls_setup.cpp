#include "tls_setup.h"

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace wire::server {

namespace {

// Passes every event on; on_open and an on_close without it are the two outcomes of a handshake.
// Its callbacks run on the connection's strand, one at a time: opened_ needs no lock.
class handshake_accounting final : public connection_handler {
public:
    handshake_accounting(std::unique_ptr<connection_handler> inner, server_counters& counters) noexcept
        : inner_(std::move(inner)), counters_(counters) {}

    void on_open(connection& c) override {
        opened_ = true;
        server_counters::add(counters_.tls_handshakes);
        inner_->on_open(c);
    }
    void on_data(connection& c, gsl::span<const std::byte> data) override { inner_->on_data(c, data); }
    void on_drained(connection& c) override { inner_->on_drained(c); }
    void on_close(connection& c, std::error_code reason) override {
        if (!opened_) {
            counters_.rejections.record_handshake_failure(c, reason);
        }
        inner_->on_close(c, reason);
    }

private:
    std::unique_ptr<connection_handler> inner_;
    server_counters& counters_;
    bool opened_ = false;
};

}  // namespace

tls::server_context make_tls_context(const options::tls_settings& settings) {
    const std::string source = settings.cert_file.empty() ? "--cert-thumbprint " + settings.cert_thumbprint
                                                          : "--cert " + settings.cert_file;
    try {
        // tls::credential has no empty state to start from: server_options is built whole.
        return tls::server_context(tls::server_options{
            settings.cert_file.empty() ? tls::credential::from_store_thumbprint(settings.cert_thumbprint)
                                       : tls::credential::from_pfx_file(settings.cert_file, settings.cert_password),
            settings.alpn, tls::session_limits{}});
    } catch (const std::exception& e) {
        throw std::runtime_error(source + ": cannot use the certificate: " + e.what());
    }
}

handler_factory count_handshakes(handler_factory make_handler, server_counters& counters) {
    return [make_handler = std::move(make_handler), &counters]() -> std::unique_ptr<connection_handler> {
        std::unique_ptr<connection_handler> inner = make_handler();
        if (!inner) {
            return nullptr;
        }
        return std::make_unique<handshake_accounting>(std::move(inner), counters);
    };
}

}  // namespace wire::server
