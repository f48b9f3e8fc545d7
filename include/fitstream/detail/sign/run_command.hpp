// SPDX-License-Identifier: MIT
#pragma once

// Runs an external signing command (command_signer): `/bin/sh -c COMMAND`
// with extra environment variables, bytes on its standard input, its
// standard output collected (bounded), its standard error left to the
// terminal, and a deadline after which its whole process group is killed.
// Nothing of fitpack's own data reaches the shell's command line: the
// command is the user's, everything else travels in the environment and on
// standard input. Safe to call from several threads at once.

#include <fitstream/error.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace fitstream {
namespace detail {

struct command_result {
    enum class ending { exited, signalled, timed_out, too_much_output };
    ending how = ending::exited;
    int code = 0;                   // exit status, or the signal
    std::vector<std::uint8_t> out;  // standard output, at most max_output bytes
};

// Closes a descriptor once.
class owned_fd {
public:
    owned_fd() = default;
    explicit owned_fd(int fd) : fd_(fd) {}
    owned_fd(const owned_fd&) = delete;
    owned_fd& operator=(const owned_fd&) = delete;
    ~owned_fd() { reset(); }
    int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// "SIGTERM" for the common signals, else "signal N".
inline std::string signal_name(int sig) {
    switch (sig) {
        case SIGHUP: return "SIGHUP";
        case SIGINT: return "SIGINT";
        case SIGQUIT: return "SIGQUIT";
        case SIGILL: return "SIGILL";
        case SIGABRT: return "SIGABRT";
        case SIGBUS: return "SIGBUS";
        case SIGFPE: return "SIGFPE";
        case SIGKILL: return "SIGKILL";
        case SIGSEGV: return "SIGSEGV";
        case SIGPIPE: return "SIGPIPE";
        case SIGALRM: return "SIGALRM";
        case SIGTERM: return "SIGTERM";
        default: return "signal " + std::to_string(sig);
    }
}

// Runs `command` (see the file comment). `env` entries ("NAME=value")
// replace variables of the same name. The child runs in a process group of
// its own, so that a timeout kills what the shell started too.
// Throws an OS error naming `subject` when the command cannot be started.
inline command_result run_command(const std::string& command, const std::vector<std::string>& env,
                                  const std::vector<std::uint8_t>& input, std::chrono::milliseconds timeout,
                                  std::size_t max_output, const std::string& subject) {
    // Standard input is a socket: send() with MSG_NOSIGNAL cannot raise
    // SIGPIPE in fitpack when the command exits without reading it all.
    int in_pair[2], out_pipe[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
        throw_os_error(errno, subject, "cannot make a socket for the command's input");
    owned_fd in_child(in_pair[0]), in_ours(in_pair[1]);
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_os_error(errno, subject, "cannot make a pipe for the command's output");
    owned_fd out_ours(out_pipe[0]), out_child(out_pipe[1]);
    ::shutdown(in_child.get(), SHUT_WR);
    ::shutdown(in_ours.get(), SHUT_RD);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_child.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, out_child.get(), 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (const int s : {SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
        const std::string entry = *e;
        const auto eq = entry.find('=');
        // A token's PIN (token_options::pin_env's default) is fitpack's, not
        // the sign command's: a command never sees it.
        if (entry.compare(0, eq, "FITPACK_PKCS11_PIN") == 0 && eq == 18) continue;
        bool replaced = false;
        for (const auto& x : env) replaced = replaced || x.compare(0, x.find('=') + 1, entry, 0, eq + 1) == 0;
        if (!replaced) env_strings.push_back(entry);
    }
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw_os_error(rc, subject, "cannot run /bin/sh");
    in_child.reset();
    out_child.reset();

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto left_ms = [&] {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return left.count() < 0 ? 0 : left.count() > 60000 ? 60000 : static_cast<int>(left.count());
    };
    const auto kill_group = [&] { ::kill(-pid, SIGKILL); };
    const auto reap = [&](int& status) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    };

    command_result result;
    std::size_t written = 0;
    if (input.empty()) in_ours.reset();
    bool stopped = false;  // killed: timed out or too much output
    while (out_ours.get() >= 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            result.how = command_result::ending::timed_out;
            stopped = true;
            break;
        }
        pollfd p[2] = {{out_ours.get(), POLLIN, 0}, {in_ours.get(), POLLOUT, 0}};
        if (::poll(p, in_ours.get() >= 0 ? 2 : 1, left_ms()) < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            kill_group();
            int status = 0;
            reap(status);
            throw_os_error(e, subject, "cannot wait for the command");
        }
        if (in_ours.get() >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const ssize_t put = ::send(in_ours.get(), input.data() + written, input.size() - written,
                                       MSG_NOSIGNAL | MSG_DONTWAIT);
            if (put > 0) written += static_cast<std::size_t>(put);
            // EPIPE: the command does not read it all, which is its business.
            if ((put < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in_ours.reset();
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            std::uint8_t buf[4096];
            const ssize_t got = ::read(out_ours.get(), buf, sizeof buf);
            if (got > 0) {
                result.out.insert(result.out.end(), buf, buf + got);
                if (result.out.size() > max_output) {
                    result.out.resize(max_output);
                    result.how = command_result::ending::too_much_output;
                    stopped = true;
                    break;
                }
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                out_ours.reset();
            }
        }
    }
    in_ours.reset();
    out_ours.reset();
    int status = 0;
    if (!stopped) {
        // Output closed: the command should be ending; wait, still bounded.
        for (;;) {
            const pid_t w = ::waitpid(pid, &status, WNOHANG);
            if (w == pid) break;
            if (w < 0 && errno != EINTR) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                result.how = command_result::ending::timed_out;
                stopped = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    if (stopped) {
        kill_group();
        reap(status);
        return result;
    }
    if (WIFSIGNALED(status)) {
        result.how = command_result::ending::signalled;
        result.code = WTERMSIG(status);
    } else {
        result.how = command_result::ending::exited;
        result.code = WEXITSTATUS(status);
    }
    return result;
}

}  // namespace detail
}  // namespace fitstream
