#pragma once
// Resolving a host name for engine::connect(host, port): GetAddrInfoExW with an OVERLAPPED and a
// completion routine, which the system runs on a thread of its own pool; the routine only posts
// the operation to the engine's port, so the result is handled on a worker like any completion.
// Where the platform refuses asynchronous resolution (before Windows 8 it answers WSAEINVAL
// for an OVERLAPPED), the operation is posted instead and a worker resolves synchronously
// (GetAddrInfoW): a worker blocks for that lookup, which only such systems pay.
//
// Ownership: the connection owns the operation (heap, only for connects by name) and holds a busy
// unit on it from start() until its packet has been handled, so the system's routine and the
// port always find it alive.
#include <wire/endpoint.h>

#include "win/completion_port.h"
#include "win/operation.h"
#include "win/winsock.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace wire::detail {

class connection_impl;

class name_resolution : public operation {
public:
    // `host` is UTF-8. Throws std::bad_alloc only.
    name_resolution(complete_fn on_complete, completion_port& port, std::string_view host, std::uint16_t port_number);
    ~name_resolution();
    name_resolution(const name_resolution&) = delete;
    name_resolution& operator=(const name_resolution&) = delete;

    // Starts the lookup. Returns ERROR_SUCCESS when a packet will be dequeued for it, else the
    // error of an immediate failure (nothing queued).
    [[nodiscard]] DWORD start() noexcept;
    // On the worker that dequeued the packet: finishes a lookup that had to wait for a worker,
    // and turns the outcome into the addresses to try, in the system's order of preference.
    // Returns the error (WSAHOST_NOT_FOUND for a name without addresses).
    [[nodiscard]] DWORD finish(DWORD error) noexcept;
    // Asks the system to give up an outstanding lookup (its packet still comes, with an error).
    void cancel() noexcept;

    [[nodiscard]] const std::vector<endpoint>& addresses() const noexcept { return addresses_; }

    // The connection the lookup is for: set when the connection takes it over.
    connection_impl* owner = nullptr;

private:
    static void CALLBACK completed(DWORD error, DWORD bytes, LPWSAOVERLAPPED overlapped) noexcept;
    [[nodiscard]] DWORD collect(const ADDRINFOEXW* list) noexcept;
    [[nodiscard]] DWORD resolve_here() noexcept;

    completion_port& port_;
    std::wstring host_;
    std::wstring service_;
    ADDRINFOEXW* result_ = nullptr;  // written by the system when the lookup completes
    // The query's cancel handle: nullptr when none runs (finished, or not started), else the
    // handle, or one of two markers while start() is in its call (no handle yet). Only
    // compare-exchanged after the call: the routine may have finished the query before it returned.
    std::atomic<HANDLE> cancel_handle_{nullptr};
    // Markers: addresses of this object's own bytes, never a handle the system hands out.
    [[nodiscard]] HANDLE starting() noexcept { return static_cast<HANDLE>(&markers_[0]); }
    [[nodiscard]] HANDLE cancel_wanted() noexcept { return static_cast<HANDLE>(&markers_[1]); }
    char markers_[2] = {};
    bool synchronous_ = false;  // posted for a worker to resolve
    std::vector<endpoint> addresses_;
};

}  // namespace wire::detail
