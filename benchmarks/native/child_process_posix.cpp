// ../child_process.h on POSIX: posix_spawnp with two pipes (the native driver starts the
// Windows servers as `wine engine_benchmarks.exe --serve ...`).
#include "../child_process.h"

#include "../net.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <array>
#include <stdexcept>
#include <thread>

extern char** environ;  // POSIX: the process's environment, which posix_spawnp does not take implicitly

namespace wire::bench {

namespace {

std::runtime_error failure(std::string_view what, int error) {
    return std::runtime_error(std::string(what) + " failed (" + std::strerror(error) + ")");
}

// Our ends close on exec, so no later child (another server) inherits them.
void make_pipe(std::array<int, 2>& ends) {
    if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
        throw failure("pipe2", errno);
    }
}

using descriptor = net::socket;  // a descriptor closes like a socket

}  // namespace

std::string this_executable() {
    std::array<char, 4096> path{};
    const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
    return n > 0 ? std::string(path.data(), static_cast<std::size_t>(n)) : std::string();
}

struct child_process::state {
    pid_t pid = -1;
    descriptor to_child;    // our end of the child's stdin
    descriptor from_child;  // our end of the child's stdout
};

child_process::child_process(const std::vector<std::string>& command, const std::vector<std::string>& environment)
    : state_(std::make_unique<state>()) {
    if (command.empty()) {
        throw std::runtime_error("no command to start");
    }
    std::array<int, 2> input{};
    std::array<int, 2> output{};
    make_pipe(input);
    descriptor input_read(input[0]);
    state_->to_child.reset(input[1]);
    make_pipe(output);
    state_->from_child.reset(output[0]);
    descriptor output_write(output[1]);

    // The child gets the pipes as 0, 1 and 2 (dup2 clears close-on-exec); every other descriptor
    // of ours, the driver's sockets included, is close-on-exec.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, input_read.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, output_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, output_write.get(), 2);

    std::vector<char*> argv;
    for (const std::string& arg : command) {
        argv.push_back(const_cast<char*>(arg.c_str()));  // posix_spawn's signature; it does not write
    }
    argv.push_back(nullptr);
    std::vector<std::string> kept;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const std::string_view name = entry.substr(0, entry.find('='));
        bool replaced = false;
        for (const std::string& added : environment) {
            replaced = replaced || std::string_view(added).substr(0, added.find('=')) == name;
        }
        if (!replaced) {
            kept.emplace_back(entry);
        }
    }
    kept.insert(kept.end(), environment.begin(), environment.end());
    std::vector<char*> envp;
    for (std::string& entry : kept) {
        envp.push_back(entry.data());
    }
    envp.push_back(nullptr);

    const int spawned = ::posix_spawnp(&state_->pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        state_->pid = -1;
        throw failure("starting " + command[0], spawned);
    }
    // input_read and output_write close here: the child holds its own copies, so our read end
    // sees end-of-file when the child exits.
}

child_process::~child_process() { finish(std::chrono::milliseconds(15'000)); }

void child_process::write(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(state_->to_child.get(), data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw failure("writing to a child process", errno);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool child_process::read_some(std::string& out, std::chrono::milliseconds limit) {
    pollfd entry{state_->from_child.get(), POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(limit.count()));
    if (ready <= 0) {
        return ready == 0 || errno == EINTR;  // nothing yet
    }
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(state_->from_child.get(), buffer.data(), buffer.size());
    if (n <= 0) {
        return n < 0 && errno == EINTR;
    }
    out.append(buffer.data(), static_cast<std::size_t>(n));
    return true;
}

void child_process::finish(std::chrono::milliseconds limit) noexcept {
    state_->to_child.reset();  // end of input stops it
    if (state_->pid <= 0) {
        return;
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(state_->pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            // Our own child, by its id: it did not stop when asked.
            ::kill(state_->pid, SIGKILL);
            ::waitpid(state_->pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling an exit, not I/O
    }
    state_->pid = -1;
}

}  // namespace wire::bench
