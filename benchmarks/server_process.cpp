#include "server_process.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cwchar>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace wire::bench {

namespace {

using namespace std::chrono_literals;

std::runtime_error failure(std::string_view what, DWORD error = ::GetLastError()) {
    return std::runtime_error(std::string(what) + " failed (" + std::to_string(error) + ")");
}

std::wstring this_executable() {
    std::wstring path(MAX_PATH, L'\0');
    for (;;) {
        const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
        if (n == 0) {
            throw failure("GetModuleFileNameW");
        }
        if (n < path.size()) {
            path.resize(n);
            return path;
        }
        path.resize(path.size() * 2);
    }
}

std::wstring widen(std::string_view ascii) { return {ascii.begin(), ascii.end()}; }

// A pipe whose child end is inheritable and whose parent end is not.
struct pipe_pair {
    wire::detail::unique_handle parent_end;
    wire::detail::unique_handle child_end;
};

pipe_pair make_pipe(bool child_reads) {
    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE read_end = nullptr;
    HANDLE write_end = nullptr;
    if (::CreatePipe(&read_end, &write_end, &inherit, 0) == FALSE) {
        throw failure("CreatePipe");
    }
    pipe_pair p;
    p.parent_end.reset(child_reads ? write_end : read_end);
    p.child_end.reset(child_reads ? read_end : write_end);
    if (::SetHandleInformation(p.parent_end.get(), HANDLE_FLAG_INHERIT, 0) == FALSE) {
        throw failure("SetHandleInformation");
    }
    return p;
}

// This process's environment block with NAME=VALUE set: what a child started with it sees.
std::wstring environment_with(std::wstring_view name, std::wstring_view value) {
    std::wstring block;
    if (wchar_t* const current = ::GetEnvironmentStringsW(); current != nullptr) {
        for (const wchar_t* entry = current; *entry != L'\0'; entry += std::wcslen(entry) + 1) {
            const std::wstring_view text(entry);
            const bool same = text.size() > name.size() && text[name.size()] == L'=' &&
                              ::CompareStringOrdinal(text.data(), static_cast<int>(name.size()), name.data(),
                                                     static_cast<int>(name.size()), TRUE) == CSTR_EQUAL;
            if (!same) {
                block.append(text).push_back(L'\0');
            }
        }
        ::FreeEnvironmentStringsW(current);
    }
    block.append(name).append(L"=").append(value).push_back(L'\0');
    block.push_back(L'\0');  // the block ends with an empty entry
    return block;
}

std::map<std::string, std::uint64_t, std::less<>> parse_pairs(std::string_view text) {
    std::map<std::string, std::uint64_t, std::less<>> values;
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        const std::string_view pair = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
        const std::size_t equals = pair.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        std::uint64_t value = 0;
        const std::string_view digits = pair.substr(equals + 1);
        if (std::from_chars(digits.data(), digits.data() + digits.size(), value).ec == std::errc()) {
            values.emplace(pair.substr(0, equals), value);
        }
    }
    return values;
}

}  // namespace

std::uint64_t server_counters::operator[](std::string_view name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? 0 : it->second;
}

server_process::server_process(std::string_view kind, unsigned workers, bool trace_wineserver)
    : kind_(kind), traced_(trace_wineserver) {
    pipe_pair input = make_pipe(true);
    pipe_pair output = make_pipe(false);

    // Only the two pipe ends are inherited. Sockets are inheritable handles by default, and a
    // server started while the driver holds connections must not keep copies of them open.
    std::array<HANDLE, 2> inherited{input.child_end.get(), output.child_end.get()};
    SIZE_T list_size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &list_size);
    std::vector<std::byte> list_storage(list_size);
    auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data());
    if (::InitializeProcThreadAttributeList(list, 1, 0, &list_size) == FALSE) {
        throw failure("InitializeProcThreadAttributeList");
    }
    const bool listed = ::UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited.data(),
                                                    sizeof(inherited), nullptr, nullptr) != FALSE;

    STARTUPINFOEXW startup{};
    startup.StartupInfo.cb = sizeof(startup);
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.StartupInfo.hStdInput = input.child_end.get();
    startup.StartupInfo.hStdOutput = output.child_end.get();
    startup.StartupInfo.hStdError = output.child_end.get();  // one channel: an error reaches the driver
    startup.lpAttributeList = listed ? list : nullptr;

    std::wstring command = L"\"" + this_executable() + L"\" --serve " + widen(kind) + L" --port 0 --workers " +
                           std::to_wstring(workers) + (traced_ ? L" --markers 1" : L"");
    std::wstring environment = traced_ ? environment_with(L"WINEDEBUG", L"+server") : std::wstring();
    DWORD flags = listed ? EXTENDED_STARTUPINFO_PRESENT : 0;
    if (traced_) {
        flags |= CREATE_UNICODE_ENVIRONMENT;
    }
    PROCESS_INFORMATION info{};
    const BOOL created = ::CreateProcessW(nullptr, command.data(), nullptr, nullptr, TRUE, flags,
                                          traced_ ? environment.data() : nullptr, nullptr, &startup.StartupInfo,
                                          &info);
    const DWORD create_error = ::GetLastError();
    ::DeleteProcThreadAttributeList(list);
    if (created == FALSE) {
        throw failure("CreateProcessW", create_error);
    }
    process_.reset(info.hProcess);
    wire::detail::unique_handle thread(info.hThread);
    to_child_ = std::move(input.parent_end);
    from_child_ = std::move(output.parent_end);
    input.child_end.reset();  // the child holds its own copies; with ours closed, our read end
    output.child_end.reset(); // sees end-of-file when the child exits

    try {
        const std::string line = read_line(30s);
        constexpr std::string_view ready = "listening on 127.0.0.1:";
        if (line.rfind(ready, 0) != 0) {
            throw std::runtime_error("the " + kind_ + " server did not start: " + line);
        }
        const std::string_view digits = std::string_view(line).substr(ready.size());
        if (std::from_chars(digits.data(), digits.data() + digits.size(), port_).ec != std::errc() || port_ == 0) {
            throw std::runtime_error("the " + kind_ + " server printed no port: " + line);
        }
    } catch (const std::exception&) {
        ::TerminateProcess(process_.get(), 1);  // the destructor does not run for a failed constructor
        throw;
    }
}

server_process::~server_process() {
    try {
        write_line("quit");
        if (traced_) {
            std::cerr << "[" << kind_ << " server] " << read_line(15s) << std::endl;
        }
    } catch (const std::exception&) {
        // the server is gone already (or silent): the wait below bounds it either way
    }
    to_child_.reset();  // end of input stops it as well
    if (::WaitForSingleObject(process_.get(), 15'000) != WAIT_OBJECT_0) {
        ::TerminateProcess(process_.get(), 1);
        ::WaitForSingleObject(process_.get(), 5'000);
    }
}

server_counters server_process::counters() {
    write_line("stats");
    const std::string line = read_line(30s);
    constexpr std::string_view prefix = "stats ";
    if (line.rfind(prefix, 0) != 0) {
        throw std::runtime_error("the " + kind_ + " server answered: " + line);
    }
    return server_counters(parse_pairs(std::string_view(line).substr(prefix.size())));
}

bool server_process::wait_until_idle(std::chrono::milliseconds limit) { return wait_for_connections(0, limit); }

bool server_process::wait_for_connections(std::uint64_t count, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (counters()["connections_open"] == count) {
            return true;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);  // a polling interval between requests, not an I/O wait
    }
}

void server_process::write_line(std::string_view line) {
    std::string data(line);
    data += '\n';
    DWORD written = 0;
    if (::WriteFile(to_child_.get(), data.data(), static_cast<DWORD>(data.size()), &written, nullptr) == FALSE ||
        written != data.size()) {
        throw failure("writing to the " + kind_ + " server");
    }
}

// Anonymous pipes cannot be waited on with a timeout, so this peeks and reads what is there,
// polling between peeks. It only runs outside measured intervals.
std::string server_process::read_line(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (const std::size_t end = pending_.find('\n'); end != std::string::npos) {
            std::string line = pending_.substr(0, end);
            pending_.erase(0, end + 1);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return line;
        }
        DWORD available = 0;
        if (::PeekNamedPipe(from_child_.get(), nullptr, 0, nullptr, &available, nullptr) == FALSE) {
            throw failure("the " + kind_ + " server exited; reading from it");
        }
        if (available == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error("the " + kind_ + " server did not answer in time");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        std::array<char, 4096> buffer{};
        DWORD got = 0;
        const DWORD wanted = std::min(available, static_cast<DWORD>(buffer.size()));
        if (::ReadFile(from_child_.get(), buffer.data(), wanted, &got, nullptr) == FALSE) {
            throw failure("reading from the " + kind_ + " server");
        }
        pending_.append(buffer.data(), got);
    }
}

}  // namespace wire::bench
