#include "fault_platform.h"

#include "win/system_calls.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

namespace wire::test {

struct fault_platform::rule {
    explicit rule(syscall kind) : which(kind) {}
    syscall which;
    DWORD error = 0;       // fail at once with this...
    bool complete = false;  // ... or complete with `status` instead
    LONG status = 0;
    std::uint64_t nth = 0;  // 0: every call while `active` holds
    std::function<bool()> active;
    double share = 0;      // random faults: the probability
};

namespace {

fault_platform* current = nullptr;
detail::system_calls table{};
LPFN_ACCEPTEX real_accept_ex = nullptr;
LPFN_CONNECTEX real_connect_ex = nullptr;
LPFN_DISCONNECTEX real_disconnect_ex = nullptr;

std::mutex ports_mutex;
std::map<SOCKET, HANDLE> ports;  // socket -> the completion port it was associated with
std::map<SOCKET, UCHAR> notification_modes;  // socket -> SetFileCompletionNotificationModes flags
// Sockets "reused" after an emulated DisconnectEx: the engine's handle -> the fresh socket that now
// serves it. The engine's own handle stays open (on a finished connection) until the engine closes
// it, so its value cannot be handed to another socket meanwhile.
std::map<SOCKET, SOCKET> aliases;

SOCKET real(SOCKET s) {
    std::lock_guard lock(ports_mutex);
    const auto it = aliases.find(s);
    return it == aliases.end() ? s : it->second;
}

HANDLE real(HANDLE h) { return reinterpret_cast<HANDLE>(real(reinterpret_cast<SOCKET>(h))); }

// Whether a synchronous success on `s` skips the port (no packet follows it).
bool skips_port(SOCKET s) {
    std::lock_guard lock(ports_mutex);
    const auto it = notification_modes.find(s);
    return it != notification_modes.end() && (it->second & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) != 0;
}

constexpr LONG status_buffer_overflow = static_cast<LONG>(0x80000005L);  // a warning, not an error

// The number check() gave the call this thread is making.
thread_local std::uint64_t call_number = 0;
std::mutex delayed_mutex;
std::vector<std::thread> delayed;  // completions queued after a delay; joined by ~fault_platform

const detail::system_calls& native() noexcept { return detail::native_system_calls(); }

HANDLE port_of(SOCKET s) {
    std::lock_guard lock(ports_mutex);
    const auto it = ports.find(s);
    return it == ports.end() ? nullptr : it->second;
}

// Fails the call the Windows way when a rule says so.
bool injected_failure(syscall which, bool& complete, LONG& status) {
    const DWORD error = current->check(which, complete, status);
    if (error != 0) {
        ::WSASetLastError(static_cast<int>(error));
        ::SetLastError(error);
        return true;
    }
    return false;
}

bool injected_failure(syscall which) {
    bool complete = false;
    LONG status = 0;
    return injected_failure(which, complete, status);
}

// Makes an overlapped call of `which` on `s` (`call` returns whether it succeeded), then runs the
// after-call hooks and the ordering's holds (call_ordering.h) before the engine sees the return.
// The call's last error reaches the engine unchanged.
template <typename Call>
bool around_overlapped(syscall which, SOCKET s, const OVERLAPPED* overlapped, Call call) {
    call_ordering& ordering = current->ordering();
    const std::uint64_t ticket = ordering.before_call(static_cast<unsigned>(which), call_number, overlapped);
    const bool succeeded = call();
    const int error = succeeded ? 0 : ::WSAGetLastError();
    // WSAEMSGSIZE (a truncated datagram) completes as a success does (see fake_wsa_recv_from).
    const bool packet_expected =
        succeeded || error == WSAEMSGSIZE ? !skips_port(s) : error == WSA_IO_PENDING;
    current->returned(which);
    ordering.after_call(overlapped, ticket, packet_expected);
    ::WSASetLastError(error);
    return succeeded;
}

int socket_result(bool succeeded) { return succeeded ? 0 : SOCKET_ERROR; }

// An overlapped call reported pending whose completion the platform queues itself.
int pend_with(SOCKET s, LPWSAOVERLAPPED overlapped, LONG status) {
    current->queue_completion(s, overlapped, status, std::chrono::milliseconds(0));
    ::WSASetLastError(WSA_IO_PENDING);
    return SOCKET_ERROR;
}

SOCKET WSAAPI fake_wsa_socket(int af, int type, int protocol, LPWSAPROTOCOL_INFOW info, GROUP g, DWORD flags) {
    if (injected_failure(syscall::wsa_socket)) {
        return INVALID_SOCKET;
    }
    return native().wsa_socket(af, type, protocol, info, g, flags);
}

int WSAAPI fake_bind(SOCKET s, const sockaddr* name, int length) {
    if (injected_failure(syscall::bind)) {
        return SOCKET_ERROR;
    }
    const int result = native().bind(real(s), name, length);
    if (result == 0) {
        current->note_bound(s);
    }
    return result;
}

int WSAAPI fake_setsockopt(SOCKET s, int level, int name, const char* value, int length) {
    if (injected_failure(syscall::setsockopt)) {
        return SOCKET_ERROR;
    }
    return native().setsockopt(real(s), level, name, value, length);
}

int WSAAPI fake_shutdown(SOCKET s, int how) {
    if (injected_failure(syscall::shutdown)) {
        return SOCKET_ERROR;
    }
    return native().shutdown(real(s), how);
}

int WSAAPI fake_closesocket(SOCKET s) {
    SOCKET alias = INVALID_SOCKET;
    {
        std::lock_guard lock(ports_mutex);
        ports.erase(s);
        notification_modes.erase(s);
        if (const auto it = aliases.find(s); it != aliases.end()) {
            alias = it->second;
            aliases.erase(it);
        }
    }
    current->note_closed(s);
    if (alias != INVALID_SOCKET) {
        native().closesocket(alias);
    }
    return native().closesocket(s);
}

int WSAAPI fake_getsockopt(SOCKET s, int level, int name, char* value, int* length) {
    return native().getsockopt(real(s), level, name, value, length);
}

int WSAAPI fake_getsockname(SOCKET s, sockaddr* name, int* length) { return native().getsockname(real(s), name, length); }

int WSAAPI fake_getpeername(SOCKET s, sockaddr* name, int* length) { return native().getpeername(real(s), name, length); }

BOOL WINAPI fake_set_notification_modes(HANDLE file, UCHAR flags) {
    {
        std::lock_guard lock(ports_mutex);
        notification_modes[reinterpret_cast<SOCKET>(file)] = flags;
    }
    return native().set_file_completion_notification_modes(real(file), flags);
}

// Windows' DisconnectEx(TF_REUSE_SOCKET) leaves a socket that the next AcceptEx or ConnectEx can
// use; Wine's leaves its sending side shut. So the emulation puts a fresh socket behind the
// engine's handle: on the same port with the same notification mode, and bound where the engine
// had bound it (a socket recycled after ConnectEx stays bound on Windows; the port number itself
// is not kept). Returns false with the Winsock error set when no fresh socket can be made.
bool replace_behind(SOCKET s) {
    sockaddr_storage local{};
    int length = sizeof(local);
    if (native().getsockname(real(s), reinterpret_cast<sockaddr*>(&local), &length) != 0) {
        return false;
    }
    const SOCKET fresh = native().wsa_socket(local.ss_family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (fresh == INVALID_SOCKET) {
        return false;
    }
    HANDLE port = nullptr;
    UCHAR modes = 0;
    {
        std::lock_guard lock(ports_mutex);
        port = ports[s];
        modes = notification_modes[s];
    }
    native().create_io_completion_port(reinterpret_cast<HANDLE>(fresh), port, 0, 0);
    if (modes != 0) {
        native().set_file_completion_notification_modes(reinterpret_cast<HANDLE>(fresh), modes);
    }
    if (current->is_bound(s)) {
        sockaddr_storage any{};
        any.ss_family = local.ss_family;
        native().bind(fresh, reinterpret_cast<sockaddr*>(&any),
                      local.ss_family == AF_INET6 ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in)));
    }
    SOCKET previous = INVALID_SOCKET;
    {
        std::lock_guard lock(ports_mutex);
        if (const auto it = aliases.find(s); it != aliases.end()) {
            previous = it->second;
        }
        aliases[s] = fresh;
    }
    if (previous != INVALID_SOCKET) {
        native().closesocket(previous);  // reused before: its connection is over too
    }
    return true;
}

int WSAAPI fake_wsa_recv(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags,
                         LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    bool complete = false;
    LONG status = 0;
    if (injected_failure(syscall::wsa_recv, complete, status)) {
        return SOCKET_ERROR;
    }
    return socket_result(around_overlapped(syscall::wsa_recv, s, overlapped, [&] {
        return (complete ? pend_with(s, overlapped, status)
                         : native().wsa_recv(real(s), buffers, count, received, flags, overlapped, routine)) == 0;
    }));
}

int WSAAPI fake_wsa_send(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent, DWORD flags,
                         LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    bool complete = false;
    LONG status = 0;
    if (injected_failure(syscall::wsa_send, complete, status)) {
        return SOCKET_ERROR;
    }
    const DWORD extra = current->take_overreport(call_number);
    const auto delay = extra > 0 ? std::chrono::milliseconds(1) : current->take_send_delay(call_number);
    return socket_result(around_overlapped(syscall::wsa_send, s, overlapped, [&] {
        if (complete) {
            return pend_with(s, overlapped, status) == 0;
        }
        if (delay.count() > 0) {
            // Sent now (without an OVERLAPPED: at once on loopback), reported late.
            DWORD done = 0;
            if (native().wsa_send(real(s), buffers, count, &done, flags, nullptr, nullptr) != 0) {
                return false;
            }
            current->queue_completion(s, overlapped, 0, delay, done + extra);
            ::WSASetLastError(WSA_IO_PENDING);
            return false;
        }
        return native().wsa_send(real(s), buffers, count, sent, flags, overlapped, routine) == 0;
    }));
}

int WSAAPI fake_wsa_recv_from(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD received, LPDWORD flags, sockaddr* from,
                              LPINT from_length, LPWSAOVERLAPPED overlapped,
                              LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    bool complete = false;
    LONG status = 0;
    if (injected_failure(syscall::wsa_recv_from, complete, status)) {
        if (::WSAGetLastError() == WSAEMSGSIZE) {
            // A truncated datagram: the receive ran and its status (STATUS_BUFFER_OVERFLOW) is a
            // warning, so Windows completes it as a success: with a packet unless the socket
            // skips the port on success, and with the count in the OVERLAPPED.
            overlapped->InternalHigh = 0;
            if (!skips_port(s)) {
                current->queue_completion(s, overlapped, status_buffer_overflow, std::chrono::milliseconds(0));
            }
            ::WSASetLastError(WSAEMSGSIZE);
        }
        return SOCKET_ERROR;
    }
    if (complete && status == status_buffer_overflow && skips_port(s)) {
        // Windows with skip-on-success: a truncated datagram that completed at once is reported
        // as pending and no packet is queued (the bug libuv names in src/win/udp.c).
        ::WSASetLastError(WSA_IO_PENDING);
        return SOCKET_ERROR;
    }
    return socket_result(around_overlapped(syscall::wsa_recv_from, s, overlapped, [&] {
        return (complete ? pend_with(s, overlapped, status)
                         : native().wsa_recv_from(real(s), buffers, count, received, flags, from, from_length,
                                                  overlapped, routine)) == 0;
    }));
}

int WSAAPI fake_wsa_send_to(SOCKET s, LPWSABUF buffers, DWORD count, LPDWORD sent, DWORD flags, const sockaddr* to,
                            int to_length, LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    bool complete = false;
    LONG status = 0;
    if (injected_failure(syscall::wsa_send_to, complete, status)) {
        return SOCKET_ERROR;
    }
    return socket_result(around_overlapped(syscall::wsa_send_to, s, overlapped, [&] {
        return (complete ? pend_with(s, overlapped, status)
                         : native().wsa_send_to(real(s), buffers, count, sent, flags, to, to_length, overlapped,
                                                routine)) == 0;
    }));
}

BOOL PASCAL fake_accept_ex(SOCKET listening, SOCKET accepting, PVOID buffer, DWORD receive_length,
                           DWORD local_length, DWORD remote_length, LPDWORD received, LPOVERLAPPED overlapped) {
    if (injected_failure(syscall::accept_ex)) {
        return FALSE;
    }
    if (current->accept_rejects_bound() && current->is_bound(accepting)) {
        current->count_bound_refused();
        ::WSASetLastError(WSAEINVAL);
        return FALSE;
    }
    // The completion goes to the listening socket's port, under its notification mode.
    return around_overlapped(syscall::accept_ex, listening, overlapped, [&] {
        return real_accept_ex(listening, real(accepting), buffer, receive_length, local_length, remote_length,
                              received, overlapped) != FALSE;
    }) ? TRUE : FALSE;
}

BOOL PASCAL fake_connect_ex(SOCKET s, const sockaddr* name, int length, PVOID buffer, DWORD send_length,
                            LPDWORD sent, LPOVERLAPPED overlapped) {
    if (injected_failure(syscall::connect_ex)) {
        return FALSE;
    }
    if (real(s) != s) {  // reused behind the engine's handle (emulated DisconnectEx)
        if (const DWORD error = current->take_reused_connect_failure(); error != 0) {
            current->count_injected(syscall::connect_ex);
            ::WSASetLastError(static_cast<int>(error));
            ::SetLastError(error);
            return FALSE;
        }
    }
    return around_overlapped(syscall::connect_ex, s, overlapped, [&] {
        return real_connect_ex(real(s), name, length, buffer, send_length, sent, overlapped) != FALSE;
    }) ? TRUE : FALSE;
}

BOOL PASCAL fake_disconnect_ex(SOCKET s, LPOVERLAPPED overlapped, DWORD flags, DWORD reserved) {
    if (injected_failure(syscall::disconnect_ex)) {
        return FALSE;
    }
    if (!current->disconnect_emulated() || overlapped == nullptr) {
        return around_overlapped(syscall::disconnect_ex, s, overlapped, [&] {
            return real_disconnect_ex(s, overlapped, flags, reserved) != FALSE;
        }) ? TRUE : FALSE;
    }
    if ((flags & TF_REUSE_SOCKET) != 0 && !replace_behind(s)) {
        return FALSE;
    }
    current->queue_completion(s, overlapped, 0, current->disconnect_delay());
    current->count_disconnect();
    if (current->disconnect_finishes_at_once()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a worker handles the packet meanwhile
        return TRUE;
    }
    ::WSASetLastError(WSA_IO_PENDING);
    return FALSE;
}

int WSAAPI fake_wsa_ioctl(SOCKET s, DWORD code, LPVOID in, DWORD in_size, LPVOID out, DWORD out_size, LPDWORD returned,
                          LPWSAOVERLAPPED overlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    const int result = native().wsa_ioctl(s, code, in, in_size, out, out_size, returned, overlapped, routine);
    if (result != 0 || code != SIO_GET_EXTENSION_FUNCTION_POINTER || in_size != sizeof(GUID) || out == nullptr) {
        return result;
    }
    // Hand out the platform's own extension functions, which call the real ones.
    GUID guid{};
    std::memcpy(&guid, in, sizeof(guid));
    const auto replace = [&](auto& real, auto fake) {
        std::memcpy(&real, out, sizeof(real));
        std::memcpy(out, &fake, sizeof(fake));
    };
    const GUID accept_id = WSAID_ACCEPTEX;
    const GUID connect_id = WSAID_CONNECTEX;
    const GUID disconnect_id = WSAID_DISCONNECTEX;
    if (IsEqualGUID(guid, accept_id)) {
        replace(real_accept_ex, &fake_accept_ex);
    } else if (IsEqualGUID(guid, connect_id)) {
        replace(real_connect_ex, &fake_connect_ex);
    } else if (IsEqualGUID(guid, disconnect_id)) {
        replace(real_disconnect_ex, &fake_disconnect_ex);
    }
    return result;
}

HANDLE WINAPI fake_create_io_completion_port(HANDLE file, HANDLE existing, ULONG_PTR key, DWORD threads) {
    if (file != INVALID_HANDLE_VALUE && injected_failure(syscall::associate)) {
        return nullptr;
    }
    HANDLE port = native().create_io_completion_port(file, existing, key, threads);
    if (port != nullptr && file != INVALID_HANDLE_VALUE) {
        std::lock_guard lock(ports_mutex);
        ports[reinterpret_cast<SOCKET>(file)] = port;
    }
    return port;
}

BOOL WINAPI fake_post(HANDLE port, DWORD bytes, ULONG_PTR key, LPOVERLAPPED overlapped) {
    if (injected_failure(syscall::post)) {
        return FALSE;
    }
    call_ordering& ordering = current->ordering();
    const std::uint64_t ticket = ordering.before_call(static_cast<unsigned>(syscall::post), call_number, overlapped);
    const BOOL posted = native().post_queued_completion_status(port, bytes, key, overlapped);
    const DWORD error = posted != FALSE ? 0 : ::GetLastError();
    current->returned(syscall::post);
    ordering.after_call(overlapped, ticket, posted != FALSE);
    ::SetLastError(error);
    return posted;
}

BOOL WINAPI fake_dequeue(HANDLE port, LPOVERLAPPED_ENTRY entries, ULONG count, PULONG removed, DWORD timeout,
                         BOOL alertable) {
    if (injected_failure(syscall::dequeue)) {  // (also: this worker is done with its last completion)
        return FALSE;
    }
    call_ordering& ordering = current->ordering();
    const BOOL dequeued =
        native().get_queued_completion_status_ex(port, entries, ordering.entries_to_ask(count), removed, timeout, alertable);
    if (dequeued != FALSE) {
        const DWORD error = ::GetLastError();
        ordering.dequeued(entries, *removed);
        ::SetLastError(error);
    }
    return dequeued;
}

BOOL WINAPI fake_cancel(HANDLE file, LPOVERLAPPED overlapped) {
    if (injected_failure(syscall::cancel)) {
        return FALSE;
    }
    const BOOL cancelled = native().cancel_io_ex(real(file), overlapped);
    const DWORD error = cancelled != FALSE ? 0 : ::GetLastError();
    current->returned(syscall::cancel);
    current->ordering().after_cancel(static_cast<unsigned>(syscall::cancel), call_number, overlapped);
    ::SetLastError(error);
    return cancelled;
}

LPVOID WINAPI fake_virtual_alloc(LPVOID address, SIZE_T size, DWORD type, DWORD protect) {
    if (injected_failure(syscall::memory)) {
        return nullptr;
    }
    return native().virtual_alloc(address, size, type, protect);
}

}  // namespace

call_hold::call_hold(fault_platform& platform, syscall which, hold_point where) {
    auto hook = [s = state_] {
        if (s->armed.exchange(false)) {
            s->held = true;
            s->released.wait();
        }
    };
    if (where == hold_point::after_call) {
        platform.after(which, std::move(hook));
    } else {
        platform.before(which, std::move(hook));
    }
}

void call_hold::release() {
    std::call_once(state_->once, [this] { state_->release.set_value(); });
}

fault_platform::fault_platform() : random_(1) {
    table = native();
    table.wsa_socket = &fake_wsa_socket;
    table.bind = &fake_bind;
    table.setsockopt = &fake_setsockopt;
    table.getsockopt = &fake_getsockopt;
    table.getsockname = &fake_getsockname;
    table.getpeername = &fake_getpeername;
    table.set_file_completion_notification_modes = &fake_set_notification_modes;
    table.shutdown = &fake_shutdown;
    table.closesocket = &fake_closesocket;
    table.wsa_recv = &fake_wsa_recv;
    table.wsa_send = &fake_wsa_send;
    table.wsa_ioctl = &fake_wsa_ioctl;
    table.create_io_completion_port = &fake_create_io_completion_port;
    table.post_queued_completion_status = &fake_post;
    table.get_queued_completion_status_ex = &fake_dequeue;
    table.cancel_io_ex = &fake_cancel;
    table.virtual_alloc = &fake_virtual_alloc;
    table.wsa_recv_from = &fake_wsa_recv_from;
    table.wsa_send_to = &fake_wsa_send_to;
    current = this;
    detail::install_system_calls(&table);
}

fault_platform::~fault_platform() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(delayed_mutex);
        threads.swap(delayed);
    }
    for (auto& t : threads) {
        t.join();
    }
    detail::install_system_calls(nullptr);
    current = nullptr;
}

void fault_platform::fail_nth(syscall which, std::uint64_t nth, DWORD error) {
    std::lock_guard lock(mutex_);
    rule r(which);
    r.error = error;
    r.nth = calls(which) + nth;
    rules_.push_back(std::move(r));
}

void fault_platform::fail_while(syscall which, DWORD error, std::function<bool()> active) {
    std::lock_guard lock(mutex_);
    rule r(which);
    r.error = error;
    r.active = std::move(active);
    rules_.push_back(std::move(r));
}

void fault_platform::fail_randomly(std::uint32_t seed, double share, std::vector<random_fault> faults) {
    std::lock_guard lock(mutex_);
    random_.seed(seed);
    for (const random_fault& f : faults) {
        rule r(f.which);
        r.error = f.error;
        r.share = share;
        rules_.push_back(std::move(r));
    }
}

void fault_platform::complete_nth_with(syscall which, std::uint64_t nth, LONG status) {
    std::lock_guard lock(mutex_);
    rule r(which);
    r.complete = true;
    r.status = status;
    r.nth = calls(which) + nth;
    rules_.push_back(std::move(r));
}

void fault_platform::before(syscall which, std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    hooks_.emplace_back(which, std::move(hook));
}

void fault_platform::after(syscall which, std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    after_hooks_.emplace_back(which, std::move(hook));
}

void fault_platform::returned(syscall which) {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [kind, hook] : after_hooks_) {
            if (kind == which) {
                hooks.push_back(hook);
            }
        }
    }
    for (const auto& hook : hooks) {
        hook();  // outside the lock, as in check()
    }
}

std::uint32_t fault_platform::explore_orderings(double share, std::chrono::milliseconds bound) {
    std::uint32_t seed = 0;
    char text[32] = {};
    const DWORD length = ::GetEnvironmentVariableA("WIRE_ORDERING_SEED", text, sizeof(text));
    if (length > 0 && length < sizeof(text)) {
        seed = static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10));
    } else {
        seed = static_cast<std::uint32_t>(std::random_device{}());  // a new seed each run explores
    }
    std::printf("call ordering seed %lu (WIRE_ORDERING_SEED=%lu replays its choices)\n", static_cast<unsigned long>(seed),
                static_cast<unsigned long>(seed));
    std::fflush(stdout);
    ordering_.start(seed, share, bound);
    return seed;
}

void fault_platform::clear() {
    std::lock_guard lock(mutex_);
    rules_.clear();
    hooks_.clear();
    after_hooks_.clear();
}

std::uint64_t fault_platform::calls(syscall which) const noexcept {
    return calls_[static_cast<unsigned>(which)].load();
}

std::uint64_t fault_platform::injected(syscall which) const noexcept {
    return injected_[static_cast<unsigned>(which)].load();
}

void fault_platform::emulate_disconnect_completion(std::chrono::milliseconds delay) {
    disconnect_delay_.store(delay.count());
}

void fault_platform::emulate_accept_rejects_bound_sockets() { accept_rejects_bound_.store(true); }

void fault_platform::emulate_disconnect_finishing_at_once() {
    disconnect_delay_.store(0);
    disconnect_at_once_.store(true);
}

DWORD fault_platform::check(syscall which, bool& complete_instead, LONG& status) {
    ordering_.progress();  // this thread came back to the seam: done with the completion it dequeued
    const std::uint64_t number = ++calls_[static_cast<unsigned>(which)];
    call_number = number;
    std::vector<std::function<void()>> hooks;
    DWORD error = 0;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [kind, hook] : hooks_) {
            if (kind == which) {
                hooks.push_back(hook);
            }
        }
        for (auto it = rules_.begin(); it != rules_.end(); ++it) {
            if (it->which != which) {
                continue;
            }
            bool hit = false;
            if (it->nth != 0) {
                hit = it->nth == number;
            } else if (it->share > 0) {
                hit = std::uniform_real_distribution<double>(0, 1)(random_) < it->share;
            } else {
                hit = it->active && it->active();
            }
            if (!hit) {
                continue;
            }
            ++injected_[static_cast<unsigned>(which)];
            if (it->complete) {
                complete_instead = true;
                status = it->status;
            } else {
                error = it->error;
            }
            if (it->nth != 0) {
                rules_.erase(it);
            }
            break;
        }
    }
    for (const auto& hook : hooks) {
        hook();  // outside the lock: a hook may wait for other threads' calls
    }
    return error;
}

void fault_platform::queue_completion(SOCKET s, OVERLAPPED* overlapped, LONG status,
                                      std::chrono::milliseconds delay, DWORD bytes) {
    // As the kernel does: the status goes into OVERLAPPED::Internal, the packet to the socket's
    // port under the key the engine associated it with (completion_key::io, 0).
    HANDLE port = port_of(s);
    overlapped->Internal = static_cast<ULONG_PTR>(static_cast<ULONG>(status));
    overlapped->InternalHigh = bytes;
    const auto post = [port, overlapped, bytes] {
        native().post_queued_completion_status(port, bytes, 0, overlapped);
    };
    if (delay.count() <= 0) {
        post();
        return;
    }
    std::lock_guard lock(delayed_mutex);
    delayed.emplace_back([post, delay] {
        std::this_thread::sleep_for(delay);
        post();
    });
}

void fault_platform::delay_nth_send_completion(std::uint64_t nth, std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    send_delays_.emplace_back(calls(syscall::wsa_send) + nth, delay);
}

void fault_platform::overreport_nth_send(std::uint64_t nth, DWORD extra) {
    std::lock_guard lock(mutex_);
    overreports_.emplace_back(calls(syscall::wsa_send) + nth, extra);
}

namespace {

// Removes and returns the value planned for call number `call` (a default value when none is).
template <typename Value>
Value take_planned(std::vector<std::pair<std::uint64_t, Value>>& plans, std::uint64_t call) {
    const auto it = std::find_if(plans.begin(), plans.end(), [call](const auto& plan) { return plan.first == call; });
    if (it == plans.end()) {
        return Value{};
    }
    const Value value = it->second;
    plans.erase(it);
    return value;
}

}  // namespace

DWORD fault_platform::take_overreport(std::uint64_t call) {
    std::lock_guard lock(mutex_);
    return take_planned(overreports_, call);
}

std::chrono::milliseconds fault_platform::take_send_delay(std::uint64_t call) {
    std::lock_guard lock(mutex_);
    return take_planned(send_delays_, call);
}

void fault_platform::note_closed(SOCKET s) {
    std::lock_guard lock(mutex_);
    bound_.erase(std::remove(bound_.begin(), bound_.end(), s), bound_.end());
}

void fault_platform::note_bound(SOCKET s) {
    std::lock_guard lock(mutex_);
    bound_.push_back(s);
}

bool fault_platform::is_bound(SOCKET s) {
    std::lock_guard lock(mutex_);
    return std::find(bound_.begin(), bound_.end(), s) != bound_.end();
}

}  // namespace wire::test
