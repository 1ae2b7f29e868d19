// Starting tests/tls/tls_peer.py from a Wine-hosted test, and talking to it through files.
#include "native_peer.h"

#include <gtest/gtest.h>

#include "../test_support.h"

#include <atomic>
#include <fstream>
#include <iterator>
#include <sstream>

namespace wire::test {

namespace {

std::string environment_text(const char* name) {
    char text[1024] = {};
    const DWORD length = ::GetEnvironmentVariableA(name, text, sizeof(text));
    return length == 0 || length >= sizeof(text) ? std::string{} : std::string(text, length);
}

// Linux path to the Windows path Wine gives it (drive Z: is the root).
std::string windows_path(const std::string& unix_path) {
    std::string path("Z:");
    path += unix_path;
    for (char& c : path) {
        if (c == '/') {
            c = '\\';
        }
    }
    return path;
}

std::wstring widen_ascii(const std::string& text) { return std::wstring(text.begin(), text.end()); }

std::string slurp(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return file ? std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()) : std::string{};
}

std::atomic<unsigned> next_peer{0};

}  // namespace

namespace {

// peer.cfg (written by tests/CMakeLists.txt): "python PATH" and "script PATH" lines.
std::string peer_setting(const std::string& key) {
    std::istringstream lines(slurp(windows_path(environment_text("WIRE_TLS_WORK") + "/peer.cfg")));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(key + " ", 0) == 0) {
            return line.substr(key.size() + 1);
        }
    }
    return {};
}

}  // namespace

std::string native_peer_unavailable() {
    if (environment_text("WIRE_TLS_WORK").empty() || peer_setting("python").empty() || peer_setting("script").empty()) {
        return "no native OpenSSL peer: WIRE_TLS_WORK (the folder with peer.cfg and certs/) is set by the CMake build "
               "on Linux, where the tests run under Wine; not by Visual Studio";
    }
    return {};
}

std::string certificate_unix_path(const std::string& name) { return environment_text("WIRE_TLS_WORK") + "/certs/" + name; }
std::string certificate_path(const std::string& name) { return windows_path(certificate_unix_path(name)); }

std::vector<std::byte> read_file(const std::string& path) {
    const std::string text = slurp(path);
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    return {bytes, bytes + text.size()};
}

std::string thumbprint_of(const std::string& name) {
    std::istringstream lines(slurp(certificate_path("thumbprints.txt")));
    std::string key;
    std::string value;
    while (lines >> key >> value) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

bool native_peer::launch(const std::string& role, const std::vector<std::string>& arguments) {
    // Wine reuses process ids from run to run: the clock keeps an old run's files from answering.
    const std::string base_unix = environment_text("WIRE_TLS_WORK") + "/peer-" + std::to_string(::GetCurrentProcessId()) +
                                  "-" + std::to_string(::GetTickCount64()) + "-" + std::to_string(next_peer.fetch_add(1));
    base_ = windows_path(base_unix);
    for (const char* suffix : {".ready", ".result", ".stop"}) {
        ::DeleteFileA((base_ + suffix).c_str());
    }
    ::CreateDirectoryW(widen_ascii(windows_path(environment_text("WIRE_TLS_WORK"))).c_str(), nullptr);
    // Quoted one by one: GCC 12 sees a false overlap (-Wrestrict) in a chain of string additions.
    std::string command;
    for (const std::string& part : {peer_setting("python"), std::string("-B"), peer_setting("script"),
                                    role, std::string("--stop-file"), base_unix + ".stop", std::string("--duration"),
                                    std::string("120"), std::string(role == "server" ? "--ready-file" : "--result-file"),
                                    base_unix + (role == "server" ? ".ready" : ".result")}) {
        command.append(command.empty() ? "\"" : " \"").append(part).append("\"");
    }
    for (const std::string& argument : arguments) {
        command.append(" \"").append(argument).append("\"");
    }
    std::wstring wide = widen_ascii(command);
    STARTUPINFOW startup{};
    startup.cb = sizeof(startup);
    PROCESS_INFORMATION process{};
    const std::wstring program = widen_ascii(windows_path(peer_setting("python")));
    if (::CreateProcessW(program.c_str(), wide.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &startup, &process) ==
        FALSE) {
        ADD_FAILURE() << "cannot start the native peer (" << ::GetLastError() << "): " << command;
        return false;
    }
    ::CloseHandle(process.hThread);
    ::CloseHandle(process.hProcess);  // not waitable for a Linux child: files say when it is done
    return true;
}

std::optional<native_peer> native_peer::serve(const std::vector<std::string>& arguments) {
    native_peer peer{std::string{}};
    if (!peer.launch("server", arguments)) {
        return std::nullopt;
    }
    std::string ready;
    // Python's start and the key load take a moment; the limit only bounds a peer that never comes.
    if (!eventually([&] { return !(ready = slurp(peer.base_ + ".ready")).empty(); }, 60s)) {
        ADD_FAILURE() << "the native peer did not report its address";
        return std::nullopt;
    }
    const auto colon = ready.rfind(':');
    peer.port_ = static_cast<std::uint16_t>(std::stoul(ready.substr(colon + 1)));
    return peer;
}

native_peer native_peer::client(const std::vector<std::string>& arguments) {
    native_peer peer{std::string{}};
    static_cast<void>(peer.launch("client", arguments));
    return peer;
}

native_peer::native_peer(native_peer&& other) noexcept : base_(std::move(other.base_)), port_(other.port_) {
    other.base_.clear();
}

native_peer::~native_peer() {
    if (base_.empty()) {
        return;
    }
    std::ofstream stop(base_ + ".stop");  // the peer polls for it and leaves
}

endpoint native_peer::address() const { return *endpoint::parse("127.0.0.1", port_); }

std::string native_peer::result(std::chrono::milliseconds limit) const {
    std::string text;
    eventually([&] { return !(text = slurp(base_ + ".result")).empty(); }, limit);
    return text;
}

}  // namespace wire::test
