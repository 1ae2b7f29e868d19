#pragma once
// A native (Linux) OpenSSL peer for the TLS tests: tests/tls/tls_peer.py run through Python.
//
// Under Wine, CreateProcess starts a Linux program as it would a Windows one, but the handle it
// returns cannot be waited on and the child's standard handles are not connected. So the peer
// and the test talk through files in a shared folder: the peer writes its address to a ready
// file (server) or its verdict to a result file (client), and leaves when a stop file appears
// or its --duration runs out. Nothing is left running: every peer has a duration.
//
// The CMake build sets WIRE_TLS_WORK (a Linux path): its peer.cfg names the Python and the
// script, and the tls.certs fixture makes the certificates in its certs/. Without it (Visual
// Studio on Windows) the tests that need a peer skip, saying so.
#include <wire/endpoint.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wire::test {

// Why peers cannot run here, or empty when they can.
[[nodiscard]] std::string native_peer_unavailable();
// A file in the certificates folder, as a Windows path (Z: maps Linux's root under Wine).
[[nodiscard]] std::string certificate_path(const std::string& name);
// ... and as the Linux path the peer takes.
[[nodiscard]] std::string certificate_unix_path(const std::string& name);
// The whole file, or empty.
[[nodiscard]] std::vector<std::byte> read_file(const std::string& windows_path);
// The SHA-1 thumbprint of a certificate the fixture made (thumbprints.txt), or empty.
[[nodiscard]] std::string thumbprint_of(const std::string& name);

class native_peer {
public:
    // `tls_peer.py server` with `arguments`; waits for its address. Fails the test (and returns
    // nothing) when it does not come up.
    [[nodiscard]] static std::optional<native_peer> serve(const std::vector<std::string>& arguments);
    // `tls_peer.py client` with `arguments`; run() waits for its verdict.
    [[nodiscard]] static native_peer client(const std::vector<std::string>& arguments);
    native_peer(native_peer&& other) noexcept;
    native_peer& operator=(native_peer&&) = delete;
    native_peer(const native_peer&) = delete;
    native_peer& operator=(const native_peer&) = delete;
    ~native_peer();  // asks the peer to leave

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] endpoint address() const;
    // A client peer's JSON verdict line, empty when none came within `limit`.
    [[nodiscard]] std::string result(std::chrono::milliseconds limit) const;

private:
    explicit native_peer(std::string base) : base_(std::move(base)) {}
    [[nodiscard]] bool launch(const std::string& role, const std::vector<std::string>& arguments);

    std::string base_;  // Windows path of this peer's files, without suffix ("" once moved from)
    std::uint16_t port_ = 0;
};

}  // namespace wire::test
