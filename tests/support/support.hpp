// SPDX-License-Identifier: MIT
#pragma once

// Test support shared by the suite: temporary directories, running real
// programs (fitpack, dtc, dumpimage, ...) and capturing their output, small
// file, byte and text helpers, and test inputs. Paths come from compile
// definitions set by tests/CMakeLists.txt. The fdtget wrappers are in
// tools.hpp, the QEMU harness in uboot_qemu.hpp, the codec segment driver in
// segments.hpp.

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace fitstream_test {

namespace fs = std::filesystem;

#ifdef FITSTREAM_TEST_FITPACK
inline const std::string fitpack_path = FITSTREAM_TEST_FITPACK;
#endif
#ifdef FITSTREAM_TEST_DATA_DIR
inline const fs::path data_dir = FITSTREAM_TEST_DATA_DIR;
#endif
#ifdef FITSTREAM_TEST_DATA_DIR
/// The files in tests/data/boards whose extension is `ext` (".dts" or
/// ".dtso"), sorted by name.
inline std::vector<fs::path> board_sources(const std::string& ext = ".dts") {
    std::vector<fs::path> sources;
    for (const auto& e : fs::directory_iterator(data_dir / "boards"))
        if (e.path().extension() == ext) sources.push_back(e.path());
    std::sort(sources.begin(), sources.end());
    return sources;
}
#endif
#ifdef FITSTREAM_TEST_EXAMPLES_DIR
inline const fs::path examples_dir = FITSTREAM_TEST_EXAMPLES_DIR;
#endif

/// A fixed SOURCE_DATE_EPOCH for fitpack runs, so FITs do not depend on the
/// clock.
inline const std::string epoch_env = "SOURCE_DATE_EPOCH=1700000000";

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class temp_dir {
public:
    temp_dir() {
        const char* env = std::getenv("TMPDIR");
        std::string pattern = std::string(env && *env ? env : "/tmp") + "/fitstream-test-XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
        path_ = buf.data();
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        // Tests may make directories read-only; give write access back first.
        for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            if (it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const noexcept { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

/// What a finished child process left behind.
struct run_result {
    int exit_code = -1;  ///< exit status, or 128 + signal number
    std::string out;     ///< standard output
    std::string err;     ///< standard error
};

/// Runs `argv` (argv[0] looked up in PATH), feeding `input` on standard
/// input, and waits for it. `extra_env` entries ("NAME=value") are added to
/// (or override) the environment.
inline run_result run(const std::vector<std::string>& argv, const std::string& input = {},
                      const std::vector<std::string>& extra_env = {}) {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))
        throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        std::string entry = *e;
        bool overridden = false;
        for (const auto& x : extra_env)
            if (entry.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) overridden = true;
        if (!overridden) env_strings.push_back(entry);
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);

    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        throw std::runtime_error("cannot run " + argv.at(0) + ": " + std::strerror(rc));
    }

    run_result result;
    std::size_t written = 0;
    int in_fd = in_pipe[1];
    if (input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    } else {
        ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
    }
    int fds[2] = {out_pipe[0], err_pipe[0]};
    std::string* sinks[2] = {&result.out, &result.err};
    char buf[65536];
    while (fds[0] >= 0 || fds[1] >= 0 || in_fd >= 0) {
        pollfd p[3];
        int n = 0;
        for (int fd : fds) p[n++] = {fd, POLLIN, 0};
        p[n++] = {in_fd, POLLOUT, 0};
        if (::poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t got = ::read(fds[i], buf, sizeof buf);
            if (got > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                ::close(fds[i]);
                fds[i] = -1;
            }
        }
        if (in_fd >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const ssize_t put = ::write(in_fd, input.data() + written, input.size() - written);
            if (put > 0) written += static_cast<std::size_t>(put);
            if (put < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
            if (written == input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

/// `items` joined by `separator`, for messages.
inline std::string join(const std::vector<std::string>& items, const std::string& separator = " ") {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
    return out;
}

/// `text` split into lines, without their newlines.
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// `text` without trailing newlines.
inline std::string trim_newline(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

/// "argv -> exit N", standard output when there is any, and standard error,
/// for a failed check's message.
inline std::string describe(const std::vector<std::string>& argv, const run_result& r) {
    return join(argv) + " -> exit " + std::to_string(r.exit_code) + (r.out.empty() ? "" : "\nstdout: " + r.out) +
           "\nstderr: " + r.err;
}

/// Runs `argv` like run(), which must exit 0 (else the test case stops,
/// with describe()'s message).
inline run_result run_ok(const std::vector<std::string>& argv, const std::string& input = {},
                         const std::vector<std::string>& extra_env = {}) {
    run_result r = run(argv, input, extra_env);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(argv, r));
    return r;
}

/// The standard output of run_ok().
inline std::string tool(const std::vector<std::string>& argv, const std::string& input = {},
                        const std::vector<std::string>& extra_env = {}) {
    return run_ok(argv, input, extra_env).out;
}

/// How fitpack is run: `env` added to the environment (by default the fixed
/// SOURCE_DATE_EPOCH; give {} for none), in `cwd` (here when empty), with
/// `input` on standard input, under `wrapper` (setpriv, prlimit, env -u ...)
/// when not empty.
struct fitpack_run {
    std::vector<std::string> env{epoch_env};
    fs::path cwd{};
    std::string input{};
    std::vector<std::string> wrapper{};
};

#ifdef FITSTREAM_TEST_FITPACK
/// The command line fitpack_of() runs: [env -C cwd] [wrapper] fitpack args.
inline std::vector<std::string> fitpack_argv(const std::vector<std::string>& args, const fitpack_run& how = {}) {
    std::vector<std::string> argv;
    if (!how.cwd.empty()) argv = {"env", "-C", how.cwd.string()};
    argv.insert(argv.end(), how.wrapper.begin(), how.wrapper.end());
    argv.push_back(fitpack_path);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

/// Runs fitpack with `args` as `how` says; any exit status.
inline run_result fitpack(const std::vector<std::string>& args, const fitpack_run& how = {}) {
    return run(fitpack_argv(args, how), how.input, how.env);
}

/// Runs fitpack with `args` as `how` says; it must exit 0.
inline run_result fitpack_ok(const std::vector<std::string>& args, const fitpack_run& how = {}) {
    return run_ok(fitpack_argv(args, how), how.input, how.env);
}
#endif

/// Whether `text` contains `part`.
inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The `Error` that `action` throws; fails the test when it throws none.
template <class Error, class Action>
Error thrown_by(Action&& action) {
    try {
        action();
    } catch (const Error& e) {
        return e;
    }
    BOOST_FAIL("no exception of the expected type thrown");
    throw std::logic_error("unreachable");
}

/// `a` followed by `b`, for building command lines
/// (`using fitstream_test::operator+;`).
inline std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// `value` as C's "%#llx" prints it ("0x40400000"; "0" for zero), the way
/// fitpack's options and U-Boot's commands take addresses.
inline std::string hex(std::uint64_t value) {
    char text[32];
    std::snprintf(text, sizeof text, "%#llx", static_cast<unsigned long long>(value));
    return text;
}

/// The big-endian 32-bit value at `at` (a FIT header field); the bytes must
/// be there.
inline std::uint32_t be32(const std::string& bytes, std::size_t at) {
    BOOST_REQUIRE(bytes.size() >= at + 4);
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
}

inline std::uint64_t align_up(std::uint64_t value, std::uint64_t align) { return (value + align - 1) / align * align; }

/// Where fitpack puts the payloads: in the structure, after it (-E), after
/// it aligned (-E -B 0x1000), or at a given position (-p).
enum class fit_layout { embedded, external, external_aligned, position };

inline const char* layout_name(fit_layout l) {
    switch (l) {
        case fit_layout::embedded: return "embedded";
        case fit_layout::external: return "-E";
        case fit_layout::external_aligned: return "-E -B 0x1000";
        case fit_layout::position: return "-p";
    }
    return "?";
}

inline std::ostream& operator<<(std::ostream& os, fit_layout l) { return os << layout_name(l); }

/// Compares big strings without printing them; names the first difference.
inline void check_same(const std::string& got, const std::string& want, const std::string& what) {
    BOOST_TEST(got.size() == want.size(), what << ": size " << got.size() << " != " << want.size());
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    BOOST_TEST((i == got.size() && i == want.size()), what << ": first difference at byte " << i);
}

/// The whole file as bytes.
inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// The names of everything in a directory.
inline std::set<std::string> directory_names(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
}

/// Compiles a .dts file with dtc into `out` (a .dtb or .dtbo); throws with
/// dtc's message on failure.
inline fs::path compile_dts(const fs::path& dts, const fs::path& out) {
    const auto r = run({"dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", out.string(), dts.string()});
    if (r.exit_code != 0) throw std::runtime_error("dtc failed on " + dts.string() + ": " + r.err);
    return out;
}

/// `size` bytes of noise from mt19937 (whose output sequence the standard
/// fixes, so they are the same everywhere).
inline std::string random_bytes(std::size_t size, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::string bytes(size, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
    return bytes;
}

/// Deterministic bytes that compress like machine code, not like zeros or
/// noise: a pseudo-random walk over a small alphabet of "instructions".
inline std::string kernel_like_payload(std::size_t size, unsigned seed = 1) {
    std::string bytes(size, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    static const char words[][4] = {{'\x1f', '\x20', '\x03', '\xd5'}, {'\xfd', '\x7b', '\xbf', '\xa9'},
                                    {'\xe0', '\x03', '\x1f', '\xaa'}, {'\xc0', '\x03', '\x5f', '\xd6'},
                                    {'\x00', '\x00', '\x80', '\xd2'}, {'\x21', '\x04', '\x00', '\x91'}};
    for (std::size_t i = 0; i + 4 <= size; i += 4) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if ((x & 7) < 5) {
            std::memcpy(&bytes[i], words[x % 6], 4);
        } else {
            std::memcpy(&bytes[i], &x, 4);
        }
    }
    return bytes;
}

}  // namespace fitstream_test
