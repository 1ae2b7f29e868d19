// The public engine facade: owns the engine core and forwards to it.
#include <wire/engine.h>

#include "core/options_validation.h"
#include "win/connection_impl.h"
#include "win/engine_core.h"
#include "win/listener_impl.h"

#include <stdexcept>

namespace wire {

engine::engine(engine_options options) : core_(std::make_shared<detail::engine_core>(options)) {
    core_->start_workers();
}

engine::~engine() { stop(); }

void engine::stop() noexcept { core_->stop(); }

listener engine::listen(const endpoint& local, handler_factory make_handler, listen_options options) {
    if (!make_handler) {
        throw std::invalid_argument("wire::engine::listen: the handler factory is empty");
    }
    detail::validate(options);
    auto impl = std::make_shared<detail::listener_impl>(core_, std::move(make_handler), options);
    if (const std::error_code ec = impl->open(local); ec) {
        throw std::system_error(ec, "listen on " + local.to_string());
    }
    if (!core_->add_listener(impl)) {
        throw std::system_error(make_error_code(error::engine_stopped), "listen on " + local.to_string());
    }
    impl->start();
    return listener(std::move(impl));
}

connection engine::connect(const endpoint& remote, std::unique_ptr<connection_handler> handler) {
    if (!handler) {
        throw std::invalid_argument("wire::engine::connect: the handler is empty");
    }
    auto impl = std::make_shared<detail::connection_impl>(core_, std::move(handler));
    // The slot is settled before the connection is published: a concurrent stop() may finalize it
    // (which gives the slot back) as soon as it is in the registry.
    const bool slot = core_->take_slot();
    if (slot) {
        impl->adopt_slot();
    }
    if (!core_->add_connection(impl)) {
        if (slot) {
            core_->release_slot();
        }
        throw std::system_error(make_error_code(error::engine_stopped), "connect to " + remote.to_string());
    }
    if (slot) {
        impl->start_connect(remote);
    } else {
        impl->fail_start(make_error_code(error::too_many_connections));
    }
    return connection(std::move(impl));
}

statistics engine::stats() const noexcept { return core_->snapshot(); }

const engine_options& engine::options() const noexcept { return core_->options(); }

platform_features engine::features() const noexcept { return core_->features(); }

}  // namespace wire
