#pragma once
// The driver's other platform piece: a child process with its stdin and stdout on pipes to us
// (child_process_win.cpp: CreateProcessW; native/child_process_posix.cpp: posix_spawn, which
// starts the Windows server under `wine`). server_process speaks its line protocol over them.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wire::bench {

// The path of the running program.
[[nodiscard]] std::string this_executable();

class child_process {
public:
    // Starts `command` (argv[0] is the program; on POSIX looked up in PATH) with `environment`
    // added to this process's environment ("NAME=VALUE" entries). Only the two pipes are
    // inherited: a server started while the driver holds connections must not keep copies of
    // them. Its stderr goes where its stdout goes. Throws std::runtime_error on failure.
    child_process(const std::vector<std::string>& command, const std::vector<std::string>& environment);
    // Waits (bounded) for the child to exit after closing its stdin, and ends it if it did not.
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    // Writes to the child's stdin. Throws std::runtime_error when the child has gone.
    void write(std::string_view data);
    // Appends what the child wrote to its stdout, waiting at most `limit` for anything to come.
    // False once its stdout is closed (the child exited).
    [[nodiscard]] bool read_some(std::string& out, std::chrono::milliseconds limit);
    // Closes the child's stdin (it then sees the end of its input) and waits at most `limit` for
    // it to exit; ends it if it did not.
    void finish(std::chrono::milliseconds limit) noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;  // the platform's handles or descriptors
};

}  // namespace wire::bench
