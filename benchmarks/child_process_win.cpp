// child_process.h on Windows: CreateProcessW with two anonymous pipes.
#include "child_process.h"

#include "win/unique_handle.h"
#include "win32.h"

#include <algorithm>
#include <array>
#include <cwchar>
#include <stdexcept>
#include <thread>

namespace wire::bench {

namespace {

std::runtime_error failure(std::string_view what, DWORD error = ::GetLastError()) {
    return std::runtime_error(std::string(what) + " failed (" + std::to_string(error) + ")");
}

std::wstring widen(std::string_view text) {
    if (text.empty()) {
        return {};
    }
    const int n = ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
    return out;
}

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

// This process's environment block with each NAME=VALUE of `added` set: what a child started
// with it sees.
std::wstring environment_with(const std::vector<std::string>& added) {
    std::vector<std::wstring> entries;
    for (const std::string& entry : added) {
        entries.push_back(widen(entry));
    }
    const auto replaced = [&](std::wstring_view text) {
        return std::any_of(entries.begin(), entries.end(), [&](const std::wstring& e) {
            const std::size_t name = e.find(L'=');
            return text.size() > name && text[name] == L'=' &&
                   ::CompareStringOrdinal(text.data(), static_cast<int>(name), e.data(), static_cast<int>(name),
                                          TRUE) == CSTR_EQUAL;
        });
    };
    std::wstring block;
    if (wchar_t* const current = ::GetEnvironmentStringsW(); current != nullptr) {
        for (const wchar_t* entry = current; *entry != L'\0'; entry += std::wcslen(entry) + 1) {
            if (const std::wstring_view text(entry); !replaced(text)) {
                block.append(text).push_back(L'\0');
            }
        }
        ::FreeEnvironmentStringsW(current);
    }
    for (const std::wstring& e : entries) {
        block.append(e).push_back(L'\0');
    }
    block.push_back(L'\0');  // the block ends with an empty entry
    return block;
}

// The arguments are program paths and plain words: quoting each is enough.
std::wstring command_line(const std::vector<std::string>& command) {
    std::wstring line;
    for (const std::string& arg : command) {
        if (!line.empty()) {
            line += L' ';
        }
        line += L'"' + widen(arg) + L'"';
    }
    return line;
}

}  // namespace

std::string this_executable() {
    std::wstring path(MAX_PATH, L'\0');
    for (;;) {
        const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
        if (n == 0) {
            throw failure("GetModuleFileNameW");
        }
        if (n < path.size()) {
            path.resize(n);
            break;
        }
        path.resize(path.size() * 2);
    }
    const int size = ::WideCharToMultiByte(CP_UTF8, 0, path.data(), static_cast<int>(path.size()), nullptr, 0,
                                           nullptr, nullptr);
    std::string out(static_cast<std::size_t>(size), '\0');
    ::WideCharToMultiByte(CP_UTF8, 0, path.data(), static_cast<int>(path.size()), out.data(), size, nullptr,
                          nullptr);
    return out;
}

struct child_process::state {
    wire::detail::unique_handle process;
    wire::detail::unique_handle to_child;    // our end of the child's stdin
    wire::detail::unique_handle from_child;  // our end of the child's stdout
};

child_process::child_process(const std::vector<std::string>& command, const std::vector<std::string>& environment)
    : state_(std::make_unique<state>()) {
    pipe_pair input = make_pipe(true);
    pipe_pair output = make_pipe(false);

    // Only the two pipe ends are inherited. Sockets are inheritable handles by default.
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

    std::wstring line = command_line(command);
    std::wstring block = environment.empty() ? std::wstring() : environment_with(environment);
    DWORD flags = listed ? EXTENDED_STARTUPINFO_PRESENT : 0;
    if (!environment.empty()) {
        flags |= CREATE_UNICODE_ENVIRONMENT;
    }
    startup.lpAttributeList = listed ? list : nullptr;
    PROCESS_INFORMATION info{};
    const BOOL created = ::CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, flags,
                                          environment.empty() ? nullptr : block.data(), nullptr,
                                          &startup.StartupInfo, &info);
    const DWORD create_error = ::GetLastError();
    ::DeleteProcThreadAttributeList(list);
    if (created == FALSE) {
        throw failure("CreateProcessW", create_error);
    }
    state_->process.reset(info.hProcess);
    const wire::detail::unique_handle thread(info.hThread);
    state_->to_child = std::move(input.parent_end);
    state_->from_child = std::move(output.parent_end);
    // The child holds its own copies; with ours closed, our read end sees end-of-file when the
    // child exits. (input/output close them as they go out of scope.)
}

child_process::~child_process() { finish(std::chrono::milliseconds(15'000)); }

void child_process::write(std::string_view data) {
    DWORD written = 0;
    if (!state_->to_child ||
        ::WriteFile(state_->to_child.get(), data.data(), static_cast<DWORD>(data.size()), &written, nullptr) ==
            FALSE ||
        written != data.size()) {
        throw failure("writing to a child process");
    }
}

// Anonymous pipes cannot be waited on with a timeout, so this peeks and reads what is there,
// polling between peeks. It only runs outside measured intervals.
bool child_process::read_some(std::string& out, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        DWORD available = 0;
        if (::PeekNamedPipe(state_->from_child.get(), nullptr, 0, nullptr, &available, nullptr) == FALSE) {
            return false;
        }
        if (available > 0) {
            std::array<char, 4096> buffer{};
            DWORD got = 0;
            const DWORD wanted = std::min(available, static_cast<DWORD>(buffer.size()));
            if (::ReadFile(state_->from_child.get(), buffer.data(), wanted, &got, nullptr) == FALSE) {
                return false;
            }
            out.append(buffer.data(), got);
            return true;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void child_process::finish(std::chrono::milliseconds limit) noexcept {
    state_->to_child.reset();  // end of input stops it
    if (!state_->process) {
        return;
    }
    if (::WaitForSingleObject(state_->process.get(), static_cast<DWORD>(limit.count())) != WAIT_OBJECT_0) {
        ::TerminateProcess(state_->process.get(), 1);
        ::WaitForSingleObject(state_->process.get(), 5'000);
    }
    state_->process.reset();
}

}  // namespace wire::bench
