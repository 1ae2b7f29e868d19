// The TLS entry points: contexts, listen and connect, and the session's facts for the application.
#include <wire/engine.h>
#include <wire/tls.h>

#include "credentials.h"
#include "session.h"
#include "text.h"

#include <stdexcept>

namespace wire::tls {

// Reaches the contexts' credentials for listen and connect.
class session_access {
public:
    static const std::shared_ptr<const detail::credentials>& of(const server_context& context) noexcept {
        return context.credentials_;
    }
    static const std::shared_ptr<const detail::credentials>& of(const client_context& context) noexcept {
        return context.credentials_;
    }
};

server_context::server_context(server_options options) : credentials_(detail::credentials::for_server(std::move(options))) {}
const server_options& server_context::options() const noexcept { return credentials_->server(); }

client_context::client_context(client_options options) : credentials_(detail::credentials::for_client(std::move(options))) {}
const client_options& client_context::options() const noexcept { return credentials_->client(); }

listener listen(engine& engine, const endpoint& local, handler_factory make_handler, const server_context& context,
                listen_options options) {
    if (!make_handler) {
        throw std::invalid_argument("wire::tls::listen: the handler factory is empty");
    }
    const std::size_t pending_cap = engine.options().send_queue_cap;
    auto wrap = [credentials = session_access::of(context), make_handler = std::move(make_handler),
                 pending_cap]() -> std::unique_ptr<connection_handler> {
        std::unique_ptr<connection_handler> application = make_handler();
        if (!application) {
            return nullptr;  // the engine turns the connection away (error::aborted)
        }
        return std::make_unique<detail::session>(credentials, std::move(application), std::wstring{}, pending_cap);
    };
    return engine.listen(local, std::move(wrap), options);
}

connection connect(engine& engine, const endpoint& remote, std::unique_ptr<connection_handler> handler,
                   const client_context& context, std::string_view server_name) {
    if (!handler) {
        throw std::invalid_argument("wire::tls::connect: the handler is empty");
    }
    const std::string name = server_name.empty() ? remote.address() : std::string(server_name);
    auto layer = std::make_unique<detail::session>(session_access::of(context), std::move(handler), detail::widen(name),
                                                   engine.options().send_queue_cap);
    const std::vector<std::byte> hello = layer->client_hello();
    return engine.connect(remote, std::move(layer), hello);
}

connection connect(engine& engine, std::string_view host, std::uint16_t port, std::unique_ptr<connection_handler> handler,
                   const client_context& context) {
    if (!handler) {
        throw std::invalid_argument("wire::tls::connect: the handler is empty");
    }
    if (host.empty()) {
        throw std::invalid_argument("wire::tls::connect: the host is empty");
    }
    auto layer = std::make_unique<detail::session>(session_access::of(context), std::move(handler), detail::widen(host),
                                                   engine.options().send_queue_cap);
    const std::vector<std::byte> hello = layer->client_hello();
    return engine.connect(host, port, std::move(layer), hello);
}

std::optional<session_info> info(const connection& conn) {
    if (const auto* layer = dynamic_cast<const detail::session*>(connection_layer::of(conn))) {
        return layer->info();
    }
    return std::nullopt;
}

}  // namespace wire::tls
