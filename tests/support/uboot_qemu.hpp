// SPDX-License-Identifier: MIT
#pragma once

// Real U-Boot as a test client: Debian's u-boot-qemu build for QEMU's arm64
// "virt" machine, run under qemu-system-aarch64 with FIT images preloaded
// into RAM, driven through its serial console.
//
//   fitstream_test::uboot_qemu::options o;
//   o.blobs = {{fit_path, 0x50000000}};
//   fitstream_test::uboot_qemu uboot(o);
//   uboot.start();                                  // stops autoboot, waits for "=> "
//   auto r = uboot.run("iminfo 0x50000000");        // r.output, r.status ($?)
//   auto b = uboot.boot_and_read("bootm 0x50000000", "PAYLOAD: done");
//
// Console plumbing: QEMU's serial port is its stdin/stdout ("-serial stdio",
// no monitor, so no Ctrl-A multiplexer), connected to a socketpair: sends
// use MSG_NOSIGNAL, so a QEMU that died cannot SIGPIPE the test. Every
// command line is sent as "CMD; echo @@FITSTREAM-<n>:$?@@" and read back up
// to that marker and the next prompt, which yields CMD's exit status and
// cannot be confused with output that happens to contain "=> ".
//
// Bounds: each wait has its own timeout, and the whole session has a limit
// (options::session_limit) that no wait can pass. A command that timed out
// may still be running: the next one first interrupts it (Ctrl-C) and
// waits for a fresh marker, for at most 10 s. QEMU runs in its own
// process group with PR_SET_PDEATHSIG(SIGKILL); stop() (also run by the
// destructor, so on every path, exceptions included) kills that group and
// reaps QEMU. Nothing else is ever signalled.
//
// Set FITSTREAM_SKIP_QEMU=1 to skip the tests that use this (see
// qemu_tests_disabled()); otherwise a missing QEMU or U-Boot is an error.

#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fitstream_test {

/// True when FITSTREAM_SKIP_QEMU=1: the QEMU tests are then skipped.
inline bool qemu_tests_disabled() {
    const char* v = std::getenv("FITSTREAM_SKIP_QEMU");
    return v && std::string(v) == "1";
}

/// Boost.Test precondition for the QEMU tests: false, saying why, when
/// FITSTREAM_SKIP_QEMU=1.
inline boost::test_tools::assertion_result qemu_enabled(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result r(!qemu_tests_disabled());
    r.message() << "FITSTREAM_SKIP_QEMU=1";
    return r;
}

// Where the QEMU tests put things in guest RAM (qemu virt's RAM starts at
// 0x40000000), and what they call the board.

/// U-Boot's kernel_addr_r on qemu virt; the FITs say load = entry = this.
inline constexpr std::uint64_t kernel_load = 0x40400000;
/// The first preloaded FIT's address, and the space between FITs (16 MiB).
inline constexpr std::uint64_t fit_base = 0x50000000;
inline constexpr std::uint64_t fit_stride = 0x1000000;
/// The model the tests give QEMU virt's own DTB; the payload prints it, which
/// shows it got the FIT's DTB and not U-Boot's.
inline const std::string board_model = "fitstream test: QEMU virt board";

/// Looks `name` up in PATH (or takes it as a path if it has a '/'); empty
/// when not found.
inline std::string find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t begin = 0;
    while (begin <= dirs.size()) {
        const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
        const std::string dir = end > begin ? dirs.substr(begin, end - begin) : ".";
        const std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        begin = end + 1;
    }
    return {};
}

/// A failure of the QEMU session itself (could not start, timed out, exited
/// early); the message ends with the last part of the console transcript.
class uboot_qemu_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A file QEMU's generic loader puts into guest RAM, raw, before U-Boot runs.
struct uboot_blob {
    fs::path file;
    std::uint64_t address = 0;
};

/// What one console command printed (without the echoed command line and
/// the prompt; CR removed) and its exit status ($?).
struct uboot_command_result {
    std::string output;
    int status = -1;
};

/// What a boot command left on the console.
struct uboot_boot_result {
    std::string output;         ///< everything after the echoed command line, CR removed
    bool found = false;         ///< the `until` text appeared
    bool exited = false;        ///< QEMU exited (the payload powered off, or a crash)
    int exit_code = -1;         ///< QEMU's exit status when exited (128 + signal if killed)
    bool returned = false;      ///< the command failed back to the U-Boot prompt
    int status = -1;            ///< its $? when returned
};

class uboot_qemu {
public:
    using clock = std::chrono::steady_clock;
    using duration = std::chrono::milliseconds;

    struct options {
        std::string qemu = "qemu-system-aarch64";
        std::string bios = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";
        std::string machine = "virt";
        std::string cpu = "cortex-a57";
        std::string memory = "1G";
        std::vector<uboot_blob> blobs;        ///< -device loader,file=...,addr=...,force-raw=on
        std::vector<std::string> extra_args;  ///< e.g. {"-dtb", "u-boot-with-key.dtb"}
        duration session_limit = std::chrono::minutes(3);  ///< start() to stop(), all waits included
    };

    explicit uboot_qemu(options o) : options_(std::move(o)) {}
    uboot_qemu(const uboot_qemu&) = delete;
    uboot_qemu& operator=(const uboot_qemu&) = delete;
    ~uboot_qemu() { stop(); }

    /// The machine part of the command line (no loaders, no extra args):
    /// also what dump_board_dtb() uses, so the dumped tree is the one U-Boot
    /// and the payload see.
    std::vector<std::string> machine_args() const {
        return {"-machine", options_.machine, "-cpu",    options_.cpu, "-m",     options_.memory,
                "-display", "none",           "-monitor", "none",      "-serial", "stdio",
                "-net",     "none",           "-no-reboot", "-bios",   options_.bios};
    }

    /// Starts QEMU, stops U-Boot's autoboot and waits for the first prompt.
    /// Throws uboot_qemu_error when QEMU or the firmware is missing, or no
    /// prompt comes within `timeout`.
    void start(duration timeout = std::chrono::seconds(60)) {
        if (pid_ > 0) throw uboot_qemu_error("uboot_qemu: already started");
        const std::string qemu = find_program(options_.qemu);
        if (qemu.empty())
            throw uboot_qemu_error("uboot_qemu: " + options_.qemu +
                                   " not found (Debian: qemu-system-arm); set FITSTREAM_SKIP_QEMU=1 to skip");
        if (!fs::exists(options_.bios))
            throw uboot_qemu_error("uboot_qemu: no U-Boot at " + options_.bios +
                                   " (Debian: u-boot-qemu); set FITSTREAM_SKIP_QEMU=1 to skip");
        for (const auto& b : options_.blobs)
            if (!fs::exists(b.file)) throw uboot_qemu_error("uboot_qemu: no such file " + b.file.string());

        std::vector<std::string> args{qemu};
        for (auto& a : machine_args()) args.push_back(std::move(a));
        for (const auto& b : options_.blobs) {
            char addr[32];
            std::snprintf(addr, sizeof addr, "%#llx", static_cast<unsigned long long>(b.address));
            args.insert(args.end(), {"-device", "loader,file=" + b.file.string() + ",addr=" + addr + ",force-raw=on"});
        }
        args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
        spawn(args);
        started_at_ = clock::now();
        session_deadline_ = started_at_ + options_.session_limit;

        // Stop autoboot: a key sent before the countdown shows is swallowed
        // by U-Boot's console set-up, so wait for the message. Should the key
        // come too late anyway, the distro boot finds nothing on this machine
        // and falls back to the prompt; the stray key then only prefixes the
        // first command line with a harmless space.
        const auto deadline = clock::now() + timeout;
        static const std::string hit_key = "Hit any key to stop autoboot";
        read_until([&] { return transcript_.find(hit_key) != std::string::npos ||
                                transcript_.find("\n=> ") != std::string::npos; },
                   deadline, "waiting for U-Boot's autoboot countdown");
        const std::size_t countdown = transcript_.find(hit_key);
        const std::size_t from = countdown == std::string::npos ? 0 : countdown;
        if (countdown != std::string::npos) send(" ");
        read_until([&] { return transcript_.find("=> ", from) != std::string::npos; }, deadline,
                   "waiting for the U-Boot prompt");
        // Synchronise on a marker, so the first real command starts clean.
        run("true", std::chrono::duration_cast<duration>(deadline - clock::now()));
    }

    /// Runs one console command line (no newline; at most 200 characters,
    /// since U-Boot's line buffer is small) and waits up to `timeout` for
    /// the prompt after it. Throws uboot_qemu_error on timeout or if QEMU
    /// exits; a failing command is not an error: see `status`.
    uboot_command_result run(const std::string& cmd, duration timeout = std::chrono::seconds(30)) {
        const auto deadline = clock::now() + timeout;
        const auto sent = send_command(cmd);
        std::optional<int> status;
        std::size_t marker_at = std::string::npos;
        const auto end = read_until(
            [&] {
                marker_at = find_marker(sent.tag, sent.at, status);
                return status && transcript_.find("=> ", marker_at) != std::string::npos;
            },
            deadline, "running '" + cmd + "'");
        if (end != wait_end::matched) throw failure("QEMU exited while running '" + cmd + "'");
        desynced_ = false;
        return {clean(echo_end(sent.at), marker_at), *status};
    }

    /// run(), returning only the output.
    std::string command(const std::string& cmd, duration timeout = std::chrono::seconds(30)) {
        return run(cmd, timeout).output;
    }

    /// Sends a command that is meant not to come back (bootm, booti, ...)
    /// and reads the console until `until` appears (when not empty), QEMU
    /// exits (a payload that powers off), or the command fails back to the
    /// prompt. Throws uboot_qemu_error when none of these happens within
    /// `timeout`.
    uboot_boot_result boot_and_read(const std::string& cmd, const std::string& until = {},
                                    duration timeout = std::chrono::seconds(60)) {
        const auto deadline = clock::now() + timeout;
        const auto sent = send_command(cmd);
        std::optional<int> status;
        std::size_t marker_at = std::string::npos;
        uboot_boot_result r;
        const auto end = read_until(
            [&] {
                if (!until.empty() && transcript_.find(until, sent.at) != std::string::npos) return r.found = true;
                marker_at = find_marker(sent.tag, sent.at, status);
                return status && transcript_.find("=> ", marker_at) != std::string::npos;
            },
            deadline, "booting with '" + cmd + "'");
        if (end == wait_end::exited) {
            r.exited = true;
            r.exit_code = exit_code_;
            r.found = !until.empty() && transcript_.find(until, sent.at) != std::string::npos;
        } else if (!r.found) {
            r.returned = true;
            r.status = *status;
            desynced_ = false;
        }
        r.output = clean(echo_end(sent.at), r.returned ? marker_at : transcript_.size());
        return r;
    }

    /// Waits up to `timeout` for QEMU to exit by itself; true when it did.
    /// Throws uboot_qemu_error if the session limit comes first.
    bool wait_exit(duration timeout) {
        return read_until([] { return false; }, clock::now() + timeout, {}, false) == wait_end::exited;
    }

    /// Kills QEMU's process group and reaps QEMU. Safe to call at any time.
    void stop() noexcept {
        if (pid_ > 0 && !reaped_) {
            ::kill(-pid_, SIGKILL);  // QEMU's own group: setpgid(0, 0) in the child
            reap(true);
        }
        close_fds();
    }

    bool running() const noexcept { return pid_ > 0 && !reaped_; }
    /// QEMU's exit status once it has exited, else -1.
    int exit_code() const noexcept { return exit_code_; }
    /// Everything the console printed so far (raw: CRLF, backspaces).
    const std::string& transcript() const noexcept { return transcript_; }
    /// What QEMU printed on its standard error.
    const std::string& qemu_stderr() const noexcept { return stderr_; }
    /// The banner's version line, e.g. "U-Boot 2023.01+dfsg-2+deb12u3 (...)".
    std::string version() const {
        const auto at = transcript_.find("U-Boot 20");
        return at == std::string::npos ? std::string() : transcript_.substr(at, transcript_.find('\r', at) - at);
    }
    /// Seconds since start().
    double elapsed() const { return std::chrono::duration<double>(clock::now() - started_at_).count(); }

    /// Dumps the devicetree QEMU hands the firmware for `o`'s machine (the
    /// same command line as start() minus the loaders) into `out`,
    /// compacted by dtc (QEMU pads it to 1 MiB).
    static fs::path dump_board_dtb(const options& o, const fs::path& out) {
        const std::string qemu = find_program(o.qemu);
        if (qemu.empty()) throw uboot_qemu_error("uboot_qemu: " + o.qemu + " not found (Debian: qemu-system-arm)");
        uboot_qemu probe(o);
        auto args = probe.machine_args();
        const fs::path raw = out.string() + ".raw";
        for (auto& a : args)
            if (a == o.machine) a = o.machine + ",dumpdtb=" + raw.string();
        args.insert(args.begin(), qemu);
        const auto r = fitstream_test::run(args);
        if (r.exit_code != 0 || !fs::exists(raw))
            throw uboot_qemu_error("uboot_qemu: dumpdtb failed: " + r.err);
        const auto c = fitstream_test::run({"dtc", "-q", "-I", "dtb", "-O", "dtb", "-o", out.string(), raw.string()});
        if (c.exit_code != 0) throw uboot_qemu_error("uboot_qemu: dtc could not compact the dumped tree: " + c.err);
        fs::remove(raw);
        return out;
    }

private:
    enum class wait_end { matched, exited, timed_out };
    struct sent_command {
        std::string tag;
        std::size_t at;
    };

    static std::string tail_of(const std::string& text, std::size_t n = 3000) {
        return text.size() <= n ? text : "..." + text.substr(text.size() - n);
    }

    uboot_qemu_error failure(const std::string& what) const {
        std::string msg = "uboot_qemu: " + what + " (after " + std::to_string(elapsed()) + " s)";
        if (!stderr_.empty()) msg += "\n--- qemu stderr ---\n" + tail_of(stderr_, 1000);
        msg += "\n--- console (last part) ---\n" + clean_text(tail_of(transcript_));
        return uboot_qemu_error(msg);
    }

    static std::string clean_text(const std::string& text) {
        std::string out;
        out.reserve(text.size());
        for (const char c : text)
            if (c != '\r') out += c;
        return out;
    }

    std::string clean(std::size_t from, std::size_t to) const {
        if (from >= to || from >= transcript_.size()) return {};
        return clean_text(transcript_.substr(from, to - from));
    }

    /// Where the output starts: after the echoed command line.
    std::size_t echo_end(std::size_t sent_at) const {
        const auto nl = transcript_.find('\n', sent_at);
        return nl == std::string::npos ? transcript_.size() : nl + 1;
    }

    /// The start of the line "<tag><digits>@@" after `from` (the echoed
    /// command line holds "<tag>$?@@", which does not match), with the
    /// digits in `status`.
    std::size_t find_marker(const std::string& tag, std::size_t from, std::optional<int>& status) const {
        for (auto at = transcript_.find(tag, from); at != std::string::npos; at = transcript_.find(tag, at + 1)) {
            std::size_t p = at + tag.size(), digits = 0;
            int value = 0;
            while (p < transcript_.size() && transcript_[p] >= '0' && transcript_[p] <= '9' && digits < 9)
                value = value * 10 + (transcript_[p++] - '0'), ++digits;
            if (digits > 0 && transcript_.compare(p, 2, "@@") == 0) {
                status = value;
                const auto line = transcript_.rfind('\n', at);
                return line == std::string::npos ? at : line + 1;
            }
        }
        status.reset();
        return std::string::npos;
    }

    sent_command send_command(const std::string& cmd) {
        if (cmd.find_first_of("\r\n") != std::string::npos) throw uboot_qemu_error("uboot_qemu: one line at a time");
        if (cmd.size() > 200) throw uboot_qemu_error("uboot_qemu: command longer than U-Boot's line buffer allows");
        if (!running()) throw failure("QEMU is not running; cannot send '" + cmd + "'");
        if (desynced_) resync();
        sent_command s{"@@FITSTREAM-" + std::to_string(++sequence_) + ":", transcript_.size()};
        // Until the marker and prompt come back, the console is in an
        // unknown state: a wait that times out leaves desynced_ set.
        desynced_ = true;
        send(cmd + "; echo " + s.tag + "$?@@\r");
        return s;
    }

    /// After a timed-out command: interrupt it (Ctrl-C; U-Boot's ctrlc()
    /// also swallows other keys typed meanwhile, so the line we sent may be
    /// gone) and resend a marker until the prompt answers, for at most 10 s.
    void resync() {
        const auto give_up = clock::now() + std::chrono::seconds(10);
        while (clock::now() < give_up) {
            send("\x03");
            const std::string tag = "@@FITSTREAM-" + std::to_string(++sequence_) + ":";
            const std::size_t at = transcript_.size();
            send("echo " + tag + "$?@@\r");
            std::optional<int> status;
            const auto end = read_until(
                [&] {
                    const auto marker = find_marker(tag, at, status);
                    return status && transcript_.find("=> ", marker) != std::string::npos;
                },
                std::min(give_up, clock::now() + std::chrono::seconds(2)), {}, false);
            if (end == wait_end::exited) throw failure("QEMU exited while resynchronising the console");
            if (status) {
                desynced_ = false;
                return;
            }
        }
        throw failure("console did not answer after an earlier timeout");
    }

    void send(const std::string& bytes) {
        std::size_t done = 0;
        while (done < bytes.size()) {
            pollfd p{console_fd_, POLLOUT, 0};
            const auto left = std::chrono::duration_cast<duration>(session_deadline_ - clock::now()).count();
            if (left <= 0) throw failure("session time limit reached while sending");
            if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000))) < 0 && errno != EINTR)
                throw failure(std::string("poll: ") + std::strerror(errno));
            if (!(p.revents & (POLLOUT | POLLERR | POLLHUP))) continue;
            const ssize_t n = ::send(console_fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                done += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                throw failure(std::string("cannot write to QEMU's console: ") + std::strerror(errno));
            }
        }
    }

    /// Reads console output until `done()` is true (checked after every
    /// read), QEMU exits (console EOF), or `deadline` / the session limit
    /// passes, which throws with `what` (or, when `throw_on_timeout` is
    /// false and the session limit is not reached, returns timed_out).
    wait_end read_until(const std::function<bool()>& done, clock::time_point deadline, const std::string& what,
                        bool throw_on_timeout = true) {
        if (done()) return wait_end::matched;
        char buf[4096];
        while (console_fd_ >= 0) {
            const auto now = clock::now();
            const auto limit = std::min(deadline, session_deadline_);
            if (now >= limit) {
                if (!throw_on_timeout && deadline < session_deadline_) return wait_end::timed_out;
                throw failure((limit == session_deadline_ ? "session time limit reached " : "timed out ") + what);
            }
            const auto left = std::chrono::duration_cast<duration>(limit - now).count() + 1;
            pollfd p[2] = {{console_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
            const int n = ::poll(p, stderr_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left, 1000)));
            if (n < 0) {
                if (errno == EINTR) continue;
                throw failure(std::string("poll: ") + std::strerror(errno));
            }
            if (stderr_fd_ >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                const ssize_t got = ::read(stderr_fd_, buf, sizeof buf);
                if (got > 0) {
                    stderr_.append(buf, static_cast<std::size_t>(got));
                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                    ::close(stderr_fd_);
                    stderr_fd_ = -1;
                }
            }
            if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                const ssize_t got = ::recv(console_fd_, buf, sizeof buf, MSG_DONTWAIT);
                if (got > 0) {
                    transcript_.append(buf, static_cast<std::size_t>(got));
                    if (done()) return wait_end::matched;
                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                    // Console closed: QEMU is exiting. Drain its stderr, reap it.
                    ::close(console_fd_);
                    console_fd_ = -1;
                    reap(false);
                    if (done()) return wait_end::matched;
                    return wait_end::exited;
                }
            }
        }
        if (done()) return wait_end::matched;
        return wait_end::exited;
    }

    /// Waits for QEMU (at most 5 s unless it was just SIGKILLed) and
    /// records its exit status; kills its group if it lingers.
    void reap(bool killed) noexcept {
        if (pid_ <= 0 || reaped_) return;
        int status = 0;
        const auto give_up = clock::now() + std::chrono::seconds(5);
        for (;;) {
            const pid_t r = ::waitpid(pid_, &status, killed ? 0 : WNOHANG);
            if (r == pid_) break;
            if (r < 0 && errno != EINTR) {
                status = 0;
                break;
            }
            if (!killed && clock::now() >= give_up) {
                ::kill(-pid_, SIGKILL);
                killed = true;
                continue;
            }
            if (!killed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        reaped_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        // Whatever QEMU said on its way out.
        if (stderr_fd_ >= 0) {
            char buf[4096];
            ssize_t got;
            while ((got = ::read(stderr_fd_, buf, sizeof buf)) > 0) stderr_.append(buf, static_cast<std::size_t>(got));
        }
    }

    void close_fds() noexcept {
        if (console_fd_ >= 0) ::close(console_fd_);
        if (stderr_fd_ >= 0) ::close(stderr_fd_);
        console_fd_ = stderr_fd_ = -1;
    }

    void spawn(const std::vector<std::string>& args) {
        int console[2], err[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) != 0)
            throw uboot_qemu_error(std::string("uboot_qemu: socketpair: ") + std::strerror(errno));
        if (::pipe2(err, O_CLOEXEC) != 0) {
            ::close(console[0]);
            ::close(console[1]);
            throw uboot_qemu_error(std::string("uboot_qemu: pipe: ") + std::strerror(errno));
        }
        // Everything the child needs is prepared before fork: between fork
        // and exec only async-signal-safe calls.
        std::vector<std::string> argv_strings = args;
        std::vector<char*> argv;
        for (auto& a : argv_strings) argv.push_back(a.data());
        argv.push_back(nullptr);
        const pid_t parent = ::getpid();

        const pid_t pid = ::fork();
        if (pid < 0) {
            const int e = errno;
            for (int fd : {console[0], console[1], err[0], err[1]}) ::close(fd);
            throw uboot_qemu_error(std::string("uboot_qemu: fork: ") + std::strerror(e));
        }
        if (pid == 0) {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);  // the test died before prctl
            ::dup2(console[1], 0);
            ::dup2(console[1], 1);
            ::dup2(err[1], 2);
            ::signal(SIGPIPE, SIG_DFL);
            sigset_t none;
            ::sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::setpgid(pid, pid);  // also here, so kill(-pid) works whoever runs first
        pid_ = pid;
        ::close(console[1]);
        ::close(err[1]);
        console_fd_ = console[0];
        stderr_fd_ = err[0];
        ::fcntl(stderr_fd_, F_SETFL, O_NONBLOCK);
    }

    options options_;
    pid_t pid_ = -1;
    bool reaped_ = false;
    int exit_code_ = -1;
    int console_fd_ = -1;
    int stderr_fd_ = -1;
    unsigned sequence_ = 0;
    bool desynced_ = false;
    std::string transcript_;
    std::string stderr_;
    clock::time_point started_at_{};
    clock::time_point session_deadline_{clock::time_point::max()};
};

/// Builds tests/data/qemu's arm64 test payload ("Image": a Linux arm64 Image
/// header, then code that prints FITSTREAM-PAYLOAD lines with its own
/// address and the model and compatible of the devicetree it was handed,
/// and powers off) into `dir` with Debian's gcc-aarch64-linux-gnu. Returns
/// the Image's path. -mcmodel=tiny: every address is ADR-relative, so the
/// code runs at any byte address (ADRP would need 4 KiB alignment).
inline fs::path build_qemu_payload(const fs::path& sources, const fs::path& dir) {
    const std::string cc = "aarch64-linux-gnu-gcc", objcopy = "aarch64-linux-gnu-objcopy";
    for (const auto& tool : {cc, objcopy})
        if (find_program(tool).empty())
            throw uboot_qemu_error("uboot_qemu: " + tool +
                                   " not found (Debian: gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu)");
    const fs::path elf = dir / "payload.elf", image = dir / "Image";
    const auto c = run({cc, "-std=c11", "-O2", "-mcmodel=tiny", "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-nostdlib",
                        "-nostartfiles", "-static", "-fno-pic", "-fno-pie", "-no-pie", "-mgeneral-regs-only",
                        "-mstrict-align", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
                        "-Wl,--build-id=none", "-Wl,-T," + (sources / "payload.ld").string(), "-o", elf.string(),
                        (sources / "head.S").string(), (sources / "payload.c").string()});
    if (c.exit_code != 0) throw uboot_qemu_error("uboot_qemu: building the payload failed:\n" + c.out + c.err);
    const auto o = run({objcopy, "-O", "binary", elf.string(), image.string()});
    if (o.exit_code != 0) throw uboot_qemu_error("uboot_qemu: objcopy failed: " + o.err);
    return image;
}

}  // namespace fitstream_test
