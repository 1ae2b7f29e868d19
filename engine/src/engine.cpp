// The public engine facade: owns the engine core and forwards to it.
#include <wire/engine.h>

#include "core/options_validation.h"
#include "win/connection_impl.h"
#include "win/engine_core.h"
#include "win/listener_impl.h"

#include <stdexcept>
#include <thread>

namespace wire {

engine::engine(engine_options options) : core_(std::make_unique<detail::engine_core>(options)) {
    core_->start_workers();
}

engine::~engine() {
    if (!core_) {
        return;
    }
    if (core_->on_own_worker()) {
        // Destroyed inside one of its own callbacks: this worker cannot wait for itself, and the
        // core must not be destroyed while its workers run. A reaper thread finishes the stop
        // (joining this worker once the callback has returned) and then destroys the core.
        core_->begin_stop();
        detail::engine_core* const core = core_.release();
        try {
            std::thread([core] {
                std::unique_ptr<detail::engine_core> owned(core);
                owned->stop();
                if (!owned->stopped_cleanly()) {
                    (void)owned.release();  // see below
                }
            }).detach();
        } catch (const std::system_error&) {
            // No thread to finish it: leaking the core is the only safe outcome left.
        }
        return;
    }
    core_->stop();
    if (!core_->stopped_cleanly()) {
        // An operation never completed: the kernel may still write into memory the core owns.
        (void)core_.release();
    }
}

void engine::stop() noexcept {
    if (core_) {
        core_->stop();
    }
}

listener engine::listen(const endpoint& local, handler_factory make_handler, listen_options options) {
    if (!make_handler) {
        throw std::invalid_argument("wire::engine::listen: the handler factory is empty");
    }
    detail::validate(options);
    auto impl = std::make_shared<detail::listener_impl>(core_->context(), std::move(make_handler), options);
    if (const std::error_code ec = impl->open(local); ec) {
        throw std::system_error(ec, "listen on " + local.to_string());
    }
    if (!core_->registry().add(impl)) {
        throw std::system_error(make_error_code(error::engine_stopped), "listen on " + local.to_string());
    }
    impl->start();
    return listener(std::move(impl));
}

namespace {

// Registers a new outgoing connection and lets `begin` start it (connect or resolve), or fails it
// at once when max_connections are open.
template <typename Begin>
connection start_outgoing(detail::engine_core& core, std::unique_ptr<connection_handler> handler,
                          const std::string& target, Begin begin) {
    if (!handler) {
        throw std::invalid_argument("wire::engine::connect: the handler is empty");
    }
    auto impl = std::make_shared<detail::connection_impl>(core.context(), std::move(handler), detail::reuse_use::connect);
    detail::connection_registry& registry = core.registry();
    // The slot is settled before the connection is published: a concurrent stop() may finalize it
    // (which gives the slot back and counts it out) as soon as it is in the registry.
    const bool slot = registry.take_slot();
    if (slot) {
        impl->adopt_slot();
    }
    detail::engine_counters::add(core.counters().connections_open);
    if (!registry.add(impl)) {
        detail::engine_counters::sub(core.counters().connections_open);
        if (slot) {
            registry.release_slot();
        }
        throw std::system_error(make_error_code(error::engine_stopped), "connect to " + target);
    }
    if (slot) {
        begin(*impl);
    } else {
        impl->fail_start(make_error_code(error::too_many_connections));
    }
    return connection(std::move(impl));
}

}  // namespace

connection engine::connect(const endpoint& remote, std::unique_ptr<connection_handler> handler,
                           gsl::span<const std::byte> first_data) {
    return start_outgoing(*core_, std::move(handler), remote.to_string(),
                          [&](detail::connection_impl& c) { c.start_connect(remote, first_data); });
}

connection engine::connect(std::string_view host, std::uint16_t port, std::unique_ptr<connection_handler> handler,
                           gsl::span<const std::byte> first_data) {
    if (host.empty()) {
        throw std::invalid_argument("wire::engine::connect: the host name is empty");
    }
    if (const auto numeric = endpoint::parse(host, port)) {
        return connect(*numeric, std::move(handler), first_data);
    }
    return start_outgoing(*core_, std::move(handler), std::string(host) + ":" + std::to_string(port),
                          [&](detail::connection_impl& c) { c.start_resolving(host, port, first_data); });
}

std::error_code engine::post(std::function<void()> work) {
    if (!work) {
        throw std::invalid_argument("wire::engine::post: the work function is empty");
    }
    return core_->post(std::move(work));
}

timer engine::after(timer::duration delay, std::function<void()> callback) {
    if (!callback) {
        throw std::invalid_argument("wire::engine::after: the callback is empty");
    }
    return timer(core_->timers(), core_->schedule(delay, {}, std::move(callback)));
}

timer engine::every(timer::duration period, std::function<void()> callback) {
    if (!callback) {
        throw std::invalid_argument("wire::engine::every: the callback is empty");
    }
    if (period <= timer::duration::zero()) {
        throw std::invalid_argument("wire::engine::every: the period must be positive");
    }
    return timer(core_->timers(), core_->schedule(period, period, std::move(callback)));
}

statistics engine::stats() const noexcept { return core_->snapshot(); }

const engine_options& engine::options() const noexcept { return core_->options(); }

platform_features engine::features() const noexcept { return core_->features(); }

}  // namespace wire
