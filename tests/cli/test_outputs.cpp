// SPDX-License-Identifier: MIT
//
// Where fitpack's outputs go, and what they may not destroy (issue 14,
// "lost or destroyed files"):
//
//  - a device, FIFO or socket as the output (-o, extract -o, -f, the
//    depfile) is written to as a stream and stays what it was: /dev/null
//    stays a character device, a FIFO's reader gets the FIT;
//  - a symbolic link as the output is written through: the file it points
//    to is replaced, the link stays;
//  - no output may be a file the run reads (a response file, a
//    --files-from list, a key, the key DTB, the FIT extract reads) or
//    another output (-o, --depfile, --key-dtb); refused with the file intact;
//  - the temporary file is unnamed: SIGKILL mid-write leaves nothing;
//  - -B pads without holding the padding in memory; past libfdt's limit
//    it is refused naming -B; a disk-full error while padding names -B;
//    SIGTERM during a long padded copy ends fitpack at once.
//
// Tests run as root here and in CI: the device node is a private one made
// with mknod in a temporary directory (skipped, with a message, without
// CAP_MKNOD).

#define BOOST_TEST_MODULE outputs
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fitstream_test;
using clock_type = std::chrono::steady_clock;

/// Good inputs, made once.
struct inputs {
    temp_dir dir;
    fs::path kernel, dtb;
    inputs() {
        kernel = dir / "Image";
        write_file(kernel, kernel_like_payload(300 * 1024 + 6, 7));
        dtb = compile_dts(data_dir / "boards" / "acme-rk3399-sbc.dts", dir / "acme-rk3399-sbc.dtb");
    }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

/// fitpack's make_fit.py command line writing `out`.
std::vector<std::string> pack_args(const std::string& out, const std::string& codec = "gzip",
                                   const std::string& kernel = in().kernel.string()) {
    return {"-o", out, "-A", "arm64", "-O", "linux", "-n", "Linux", "-c", codec, "-k", kernel, in().dtb.string()};
}

/// The FIT pack_args() gives, written to a regular file.
std::string reference_fit(const std::vector<std::string>& extra = {}, const std::string& codec = "gzip") {
    temp_dir t;
    fitpack_ok(pack_args((t / "ref.fit").string(), codec) + extra);
    return read_file(t / "ref.fit");
}

/// One failed run: exit 1, one line "fitpack: error: SUBJECT: ..." saying
/// each of `words`, nothing on stdout.
void check_error(const run_result& r, const std::string& subject, const std::vector<std::string>& words) {
    BOOST_TEST_CONTEXT("stderr: " << r.err) {
        BOOST_TEST(r.exit_code == 1);
        BOOST_TEST(lines_of(r.err).size() == 1u);
        const std::string head = "fitpack: error: " + subject + ": ";
        BOOST_TEST(r.err.rfind(head, 0) == 0u, "stderr does not start with '" << head << "'");
        for (const auto& w : words) BOOST_TEST(has(r.err, w), "stderr does not say '" << w << "'");
        BOOST_TEST(r.out.empty());
    }
}

struct stat stat_of(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + p.string());
    return st;
}

/// A private character device node like /dev/null (1, 3) in `dir`, or
/// nullopt where mknod is not allowed.
std::optional<fs::path> null_device(const temp_dir& dir) {
    const fs::path node = dir / "null";
    if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
        BOOST_TEST_MESSAGE("mknod: " << std::strerror(errno) << ": device rows skipped");
        return std::nullopt;
    }
    return node;
}

/// Reads everything from the FIFO at `path` on a thread of its own.
class fifo_reader {
public:
    explicit fifo_reader(const fs::path& path)
        : thread_([this, path] {
              const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
              if (fd < 0) return;
              char buffer[65536];
              for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
                  if (n < 0 && errno == EINTR) continue;
                  if (n < 0) break;
                  bytes_.append(buffer, static_cast<std::size_t>(n));
              }
              ::close(fd);
          }) {}
    fifo_reader(const fifo_reader&) = delete;
    fifo_reader& operator=(const fifo_reader&) = delete;
    ~fifo_reader() {
        if (thread_.joinable()) thread_.join();
    }
    const std::string& bytes() {
        thread_.join();
        return bytes_;
    }

private:
    std::string bytes_;
    std::thread thread_;
};

/// Starts `argv` with stdout into `out_file` and stderr into `err_file`,
/// TMPDIR set to `tmpdir` when given.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& out_file, const fs::path& err_file,
            const std::string& tmpdir = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    std::vector<std::string> env_strings{epoch_env};
    if (!tmpdir.empty()) env_strings.push_back("TMPDIR=" + tmpdir);
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "SOURCE_DATE_EPOCH=", 18) != 0 && std::strncmp(*e, "TMPDIR=", 7) != 0)
            env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot run " + argv.at(0) + ": " + std::strerror(rc));
    return pid;
}

/// Waits for `pid` up to `seconds` (then SIGKILLs it): its wait status and
/// resource use, or nullopt when it had to be killed.
std::optional<int> wait_for(pid_t pid, double seconds, rusage* usage = nullptr) {
    const auto deadline = clock_type::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        int status = 0;
        rusage ru{};
        const pid_t r = ::wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) {
            if (usage) *usage = ru;
            return status;
        }
        if (r < 0 && errno != EINTR) return std::nullopt;
        if (clock_type::now() > deadline) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool ended(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/// The size of the temporary file `pid` writes in `dir`: an unnamed one
/// (O_TMPFILE: /proc shows "DIR/#INODE (deleted)") or a named
/// ".NAME.tmp-*"; nullopt while there is none.
std::optional<std::uint64_t> temporary_size(pid_t pid, const fs::path& dir) {
    std::error_code ec;
    const fs::path fds = "/proc/" + std::to_string(pid) + "/fd";
    for (const auto& e : fs::directory_iterator(fds, ec)) {
        const std::string target = fs::read_symlink(e.path(), ec).string();
        if (ec) continue;
        const std::string prefix = dir.string() + "/";
        if (target.rfind(prefix, 0) != 0) continue;
        const std::string name = target.substr(prefix.size());
        if (!(name.rfind("#", 0) == 0 && has(name, "(deleted)")) && !has(name, ".tmp-")) continue;
        struct stat st {};
        if (::stat(e.path().c_str(), &st) == 0) return static_cast<std::uint64_t>(st.st_size);
    }
    return std::nullopt;
}

/// Waits up to `seconds` until `pid`'s temporary file in `dir` holds
/// payload bytes. False if none did or `pid` ended first.
bool wait_for_busy_temporary(pid_t pid, const fs::path& dir, double seconds) {
    const auto deadline = clock_type::now() + std::chrono::duration<double>(seconds);
    while (clock_type::now() < deadline) {
        const auto size = temporary_size(pid, dir);
        if (size && *size > 0) return true;
        if (ended(pid)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

std::string status_text(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

/// A kernel of `mib` MiB that lzma takes seconds over, made once per size.
fs::path slow_kernel(unsigned mib) {
    static temp_dir dir;
    const fs::path p = dir / ("Image-" + std::to_string(mib));
    if (!fs::exists(p)) {
        std::ofstream out(p, std::ios::binary);
        for (unsigned i = 0; i < mib; ++i) {
            const std::string chunk = kernel_like_payload(1u << 20, 200 + i);
            out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        }
        if (!out) throw std::runtime_error("cannot write " + p.string());
    }
    return p;
}

/// Whether `dir`'s filesystem makes unnamed files (O_TMPFILE).
bool unnamed_files_in(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

constexpr std::uint64_t MiB = 1ull << 20;


}  // namespace

// ===========================================================================
// Devices, FIFOs and sockets are written to, never replaced
// ===========================================================================

BOOST_AUTO_TEST_CASE(a_device_output_stays_a_device) {
    temp_dir t;
    const auto node = null_device(t);
    if (!node) return;
    const auto rdev = stat_of(*node).st_rdev;
    const auto still_the_device = [&](const std::string& what) {
        const struct stat st = stat_of(*node);
        BOOST_TEST(S_ISCHR(st.st_mode), what << " replaced the device with mode " << std::oct << st.st_mode);
        BOOST_TEST(st.st_rdev == rdev);
        BOOST_TEST(directory_names(t.path()) == std::set<std::string>{"null"});
    };
    fitpack_ok(pack_args(node->string()));
    still_the_device("-o");
    fitpack_ok(pack_args(node->string()) + std::vector<std::string>{"-E", "-B", "0x1000"});
    still_the_device("-o with -B");
    // The depfile too.
    temp_dir out;
    fitpack_ok(pack_args((out / "a.fit").string()) + std::vector<std::string>{"--depfile", node->string()});
    still_the_device("--depfile");
    BOOST_TEST(directory_names(out.path()) == std::set<std::string>{"a.fit"});
    // extract -o and -f.
    fitpack_ok({"extract", (out / "a.fit").string(), "kernel", "-o", node->string()});
    still_the_device("extract -o");
    write_file(out / "a.its",
               "/dts-v1/;\n/ { description = \"t\"; #address-cells = <1>;\n images { kernel { data = /incbin/(\"" +
                   in().kernel.string() +
                   "\"); type = \"kernel\"; arch = \"arm64\"; os = \"linux\"; compression = \"none\"; "
                   "load = <0>; entry = <0>; }; };\n configurations { default = \"c\"; c { kernel = \"kernel\"; "
                   "}; }; };\n");
    fitpack_ok({"-f", (out / "a.its").string(), "-o", node->string()});
    still_the_device("-f");
}

BOOST_AUTO_TEST_CASE(a_fifo_reader_gets_the_bytes_of_a_regular_file_run) {
    for (const bool external : {false, true}) {
        BOOST_TEST_CONTEXT((external ? "external data, -B 0x10000" : "embedded data")) {
            const std::vector<std::string> extra =
                external ? std::vector<std::string>{"-E", "-B", "0x10000"} : std::vector<std::string>{};
            const std::string reference = reference_fit(extra);
            temp_dir t;
            const fs::path fifo = t / "fit.fifo";
            BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
            fifo_reader reader(fifo);
            fitpack_ok(pack_args(fifo.string()) + extra);
            check_same(reader.bytes(), reference, "what the FIFO's reader got");
            BOOST_TEST(S_ISFIFO(stat_of(fifo).st_mode), "the FIFO was replaced");
            BOOST_TEST(directory_names(t.path()) == std::set<std::string>{"fit.fifo"});
        }
    }
    // extract -o FIFO: the decoded kernel.
    temp_dir t;
    fitpack_ok(pack_args((t / "a.fit").string()));
    const fs::path fifo = t / "kernel.fifo";
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    fifo_reader reader(fifo);
    fitpack_ok({"extract", (t / "a.fit").string(), "kernel", "-o", fifo.string()});
    check_same(reader.bytes(), read_file(in().kernel), "the kernel through the FIFO");
    BOOST_TEST(S_ISFIFO(stat_of(fifo).st_mode));
}

BOOST_AUTO_TEST_CASE(a_unix_socket_output_is_connected_to_and_kept) {
    const std::string reference = reference_fit();
    temp_dir t;
    const fs::path path = t / "fit.sock";
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(listener >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    BOOST_TEST_REQUIRE(path.string().size() < sizeof sa.sun_path);
    std::strcpy(sa.sun_path, path.c_str());
    BOOST_TEST_REQUIRE(::bind(listener, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
    BOOST_TEST_REQUIRE(::listen(listener, 1) == 0);
    std::string got;
    std::thread server([&] {
        const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buffer[65536];
        for (ssize_t n; (n = ::read(c, buffer, sizeof buffer)) != 0;) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            got.append(buffer, static_cast<std::size_t>(n));
        }
        ::close(c);
    });
    const run_result r = fitpack(pack_args(path.string()));
    server.join();
    ::close(listener);
    BOOST_TEST(r.exit_code == 0, r.err);
    check_same(got, reference, "what the socket's peer got");
    BOOST_TEST(S_ISSOCK(stat_of(path).st_mode), "the socket was replaced");
}

// ===========================================================================
// Symbolic links are written through
// ===========================================================================

BOOST_AUTO_TEST_CASE(a_symlinked_output_replaces_its_target_and_keeps_the_link) {
    const std::string reference = reference_fit();
    temp_dir t;
    fs::create_directory(t / "real");
    write_file(t / "real" / "image.fit", "an earlier FIT");
    // A relative chain: link -> link2 -> real/image.fit.
    fs::create_symlink("link2", t / "link");
    fs::create_symlink("real/image.fit", t / "link2");
    fitpack_ok(pack_args((t / "link").string()));
    BOOST_TEST(fs::is_symlink(t / "link"));
    BOOST_TEST(fs::is_symlink(t / "link2"));
    BOOST_TEST(fs::read_symlink(t / "link2") == "real/image.fit");
    check_same(read_file(t / "real" / "image.fit"), reference, "the link's target");
    BOOST_TEST(directory_names(t.path()) == (std::set<std::string>{"link", "link2", "real"}));
    BOOST_TEST(directory_names(t / "real") == std::set<std::string>{"image.fit"});

    // A dangling link: the file it names is created.
    fs::create_symlink("real/new.fit", t / "dangling");
    fitpack_ok(pack_args((t / "dangling").string()));
    BOOST_TEST(fs::is_symlink(t / "dangling"));
    check_same(read_file(t / "real" / "new.fit"), reference, "the dangling link's new target");

    // The depfile through a link, and extract -o through one.
    fs::create_symlink("real/deps.d", t / "deps");
    fitpack_ok(pack_args((t / "out.fit").string()) + std::vector<std::string>{"--depfile", (t / "deps").string()});
    BOOST_TEST(fs::is_symlink(t / "deps"));
    BOOST_TEST(has(read_file(t / "real" / "deps.d"), in().kernel.string()));
    fs::create_symlink("real/kernel.bin", t / "kernel");
    fitpack_ok({"extract", (t / "out.fit").string(), "kernel", "-o", (t / "kernel").string()});
    BOOST_TEST(fs::is_symlink(t / "kernel"));
    check_same(read_file(t / "real" / "kernel.bin"), read_file(in().kernel), "extract -o through a link");

    // A loop of links fails, naming the output, and leaves the links.
    fs::create_symlink("loop2", t / "loop1");
    fs::create_symlink("loop1", t / "loop2");
    check_error(fitpack(pack_args((t / "loop1").string())), (t / "loop1").string(), {std::strerror(ELOOP)});
    BOOST_TEST(fs::is_symlink(t / "loop1"));
}

// ===========================================================================
// No output may be a file the run reads, or another output
// ===========================================================================

BOOST_AUTO_TEST_CASE(an_output_naming_a_file_read_is_refused_and_the_file_kept) {
    temp_dir t;
    const fs::path response = t / "args.rsp";
    write_file(response, "-k " + in().kernel.string() + "\n");
    const fs::path list = t / "dtbs.list";
    write_file(list, in().dtb.string() + "\n");
    const fs::path key = t / "dev.key";
    run_ok({"openssl", "genrsa", "-out", key.string(), "2048"});
    const fs::path key_dtb = t / "u-boot.dtb";
    fs::copy_file(in().dtb, key_dtb);
    const fs::path depfile = t / "fit.d";
    write_file(depfile, "an earlier depfile\n");
    const std::vector<std::string> common{"-A", "arm64", "-O", "linux", "-n", "Linux", "-c", "none"};
    const std::vector<std::string> signing{"--key", key.string(), "--key-dtb", key_dtb.string()};

    struct row {
        std::string what;
        std::vector<std::string> args;
        fs::path victim;
        std::string subject;
        std::vector<std::string> words;
    };
    const std::string out = (t / "out.fit").string();
    const std::string k = in().kernel.string(), dtb = in().dtb.string();
    const std::vector<row> rows = {
        {"-o the response file", common + std::vector<std::string>{"-o", response.string(), "@" + response.string(), dtb},
         response, response.string(), {"output would overwrite an input (" + response.string() + ")"}},
        {"-o the --files-from list",
         common + std::vector<std::string>{"-o", list.string(), "-k", k, "--files-from", list.string()}, list,
         list.string(), {"output would overwrite an input (" + list.string() + ")"}},
        {"-o the key", common + std::vector<std::string>{"-o", key.string(), "-k", k, dtb, "--key", key.string()},
         key, key.string(), {"output would overwrite an input (" + key.string() + ")"}},
        {"-o the key DTB", common + std::vector<std::string>{"-o", key_dtb.string(), "-k", k, dtb} + signing, key_dtb,
         key_dtb.string(), {"the output and --key-dtb are the same file"}},
        {"-o the depfile",
         common + std::vector<std::string>{"-o", depfile.string(), "-k", k, dtb, "--depfile", depfile.string()},
         depfile, depfile.string(), {"the output and --depfile are the same file"}},
        {"--depfile the key DTB",
         common + std::vector<std::string>{"-o", out, "-k", k, dtb, "--depfile", key_dtb.string()} + signing, key_dtb,
         key_dtb.string(), {"--depfile and --key-dtb are the same file"}},
        {"--depfile the response file",
         common + std::vector<std::string>{"-o", out, "@" + response.string(), dtb, "--depfile", response.string()},
         response, response.string(), {"--depfile would overwrite an input (" + response.string() + ")"}},
        {"--depfile the key",
         common + std::vector<std::string>{"-o", out, "-k", k, dtb, "--key", key.string(), "--depfile", key.string()},
         key, key.string(), {"--depfile would overwrite an input (" + key.string() + ")"}},
        {"--depfile another spelling of the --files-from list",
         common + std::vector<std::string>{"-o", out, "-k", k, "--files-from", list.string(), "--depfile",
                                           (t.path() / "." / "dtbs.list").string()},
         list, (t.path() / "." / "dtbs.list").string(), {"--depfile would overwrite an input (" + list.string() + ")"}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what << ": fitpack " << join(r.args)) {
            const std::string before = read_file(r.victim);
            const auto names = directory_names(t.path());
            check_error(fitpack(r.args), r.subject, r.words);
            BOOST_TEST((read_file(r.victim) == before), r.victim << " changed");
            BOOST_TEST(directory_names(t.path()) == names);
        }
    }
    // Both not there yet, and one file all the same.
    const std::string fresh = (t / "fresh").string();
    check_error(fitpack(common + std::vector<std::string>{"-o", fresh, "-k", k, dtb, "--depfile",
                                                          (t.path() / "." / "fresh").string()}),
                (t.path() / "." / "fresh").string(), {"the output and --depfile are the same file"});
    BOOST_TEST(!fs::exists(fresh));

    // extract -o the FIT it reads.
    fitpack_ok(common + std::vector<std::string>{"-o", out, "-k", k, dtb});
    const std::string fit = read_file(out);
    check_error(fitpack({"extract", out, "kernel", "-o", (t.path() / "." / "out.fit").string()}),
                (t.path() / "." / "out.fit").string(), {"output would overwrite an input (" + out + ")"});
    BOOST_TEST((read_file(out) == fit), "extract overwrote the FIT it read");
}

// ===========================================================================
// No temporary file left, whatever kills fitpack
// ===========================================================================

BOOST_AUTO_TEST_CASE(sigkill_mid_write_leaves_nothing_in_the_directory) {
    for (const bool over_existing : {false, true}) {
        BOOST_TEST_CONTEXT((over_existing ? "over an existing output" : "a new output")) {
            temp_dir work, out;
            if (!unnamed_files_in(out.path())) {
                // The named fallback is removed on SIGINT/SIGTERM only
                // (test_bad_input); nothing removes it after SIGKILL.
                BOOST_TEST_MESSAGE("no O_TMPFILE under " << out.path() << ": SIGKILL case skipped");
                return;
            }
            const fs::path existing = out / "old.fit";
            write_file(existing, "an earlier FIT");
            const fs::path target = over_existing ? existing : out / "new.fit";
            const pid_t pid = spawn(std::vector<std::string>{fitpack_path} +
                                        pack_args(target.string(), "lzma", slow_kernel(24).string()),
                                    work / "stdout", work / "stderr");
            const bool busy = wait_for_busy_temporary(pid, out.path(), 60);
            BOOST_TEST(busy, "no temporary file with payload bytes appeared; stderr: " << read_file(work / "stderr"));
            ::kill(pid, SIGKILL);
            const auto status = wait_for(pid, 10);
            BOOST_TEST_REQUIRE(status.has_value());
            BOOST_TEST((WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL), status_text(*status));
            BOOST_TEST((read_file(existing) == "an earlier FIT"));
            const auto left = directory_names(out.path());
            BOOST_TEST((left == std::set<std::string>{"old.fit"}), "left: " << join({left.begin(), left.end()}));
        }
    }
}

BOOST_AUTO_TEST_CASE(no_fsync_writes_the_same_bytes) {
    temp_dir t;
    fitpack_ok(pack_args((t / "a.fit").string()) + std::vector<std::string>{"--no-fsync"});
    check_same(read_file(t / "a.fit"), reference_fit(), "--no-fsync");
    BOOST_TEST(directory_names(t.path()) == std::set<std::string>{"a.fit"});
}

// ===========================================================================
// -B: padding never held in memory, its limits and its errors
// ===========================================================================

BOOST_AUTO_TEST_CASE(a_structure_padded_past_libfdts_limit_is_refused_naming_b) {
    temp_dir t;
    for (const std::string& target : {(t / "new.fit").string(), std::string("-")}) {
        const auto start = clock_type::now();
        const run_result r = fitpack(pack_args(target, "none") + std::vector<std::string>{"-B", "0x80000000"});
        // fitpack refuses it as it reads -B (the library would, before any
        // work: test_bad_input's library row).
        check_error(r, "-B/--align", {"0x80000000 (2048 MiB) is larger than 0x40000000 (1024 MiB)"});
        BOOST_TEST(std::chrono::duration<double>(clock_type::now() - start).count() < 10.0);
    }
    BOOST_TEST(directory_names(t.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_large_alignment_is_a_gap_not_memory) {
    // 1 GiB of alignment: the structure padded to 1 GiB, the kernel at
    // 1 GiB, the DTB at 2 GiB. Neither memory nor disk holds the padding.
    temp_dir t;
    const fs::path out = t / "big.fit";
    const pid_t pid = spawn(std::vector<std::string>{fitpack_path} +
                                pack_args(out.string(), "none") + std::vector<std::string>{"-B", "0x40000000"},
                            t / "stdout", t / "stderr");
    rusage usage{};
    const auto status = wait_for(pid, 60, &usage);
    BOOST_TEST_REQUIRE(status.has_value());
    BOOST_TEST_REQUIRE((WIFEXITED(*status) && WEXITSTATUS(*status) == 0),
                       status_text(*status) << ": " << read_file(t / "stderr"));
    BOOST_TEST(usage.ru_maxrss < 200 * 1024, "peak RSS " << usage.ru_maxrss << " KiB");
    const struct stat st = stat_of(out);
    BOOST_TEST(static_cast<std::uint64_t>(st.st_size) > 2 * 1024 * MiB);
    BOOST_TEST(static_cast<std::uint64_t>(st.st_blocks) * 512 < 64 * MiB, "the padding was written to disk");
    const run_result v = fitpack({"verify", out.string()});
    BOOST_TEST(has(v.out, "OK"), v.out << v.err);
    // Reading it holds the devicetree blocks, not the 1 GiB the header's
    // totalsize claims (the gap after the strings is never read).
    for (const std::string verb : {"verify", "list"}) {
        const pid_t reader = spawn({fitpack_path, verb, out.string()}, t / "stdout", t / "stderr");
        rusage read_usage{};
        const auto read_status = wait_for(reader, 60, &read_usage);
        BOOST_TEST_REQUIRE(read_status.has_value());
        BOOST_TEST((WIFEXITED(*read_status) && WEXITSTATUS(*read_status) == 0),
                   verb << ": " << status_text(*read_status) << ": " << read_file(t / "stderr"));
        BOOST_TEST(read_usage.ru_maxrss < 128 * 1024, verb << ": peak RSS " << read_usage.ru_maxrss << " KiB");
    }
    // The structure says 1 GiB; the bytes after it, up to the kernel, are zeros.
    std::ifstream f(out, std::ios::binary);
    char header[8];
    f.read(header, 8);
    BOOST_TEST(be32(std::string(header, 8), 4) == 0x40000000u);
}

BOOST_AUTO_TEST_CASE(padding_to_standard_output_is_the_same_bytes_as_to_a_file) {
    temp_dir t;
    const std::vector<std::string> extra{"-B", hex(4 * MiB)};
    fitpack_ok(pack_args((t / "a.fit").string(), "none") + extra);
    const run_result r = fitpack_ok(pack_args("-", "none") + extra);
    check_same(r.out, read_file(t / "a.fit"), "the FIT on standard output");
}

BOOST_AUTO_TEST_CASE(a_file_size_limit_while_padding_names_b) {
    temp_dir t;
    const std::vector<std::string> limit{"prlimit", "--fsize=" + std::to_string(4 * MiB)};
    const fs::path existing = t / "old.fit";
    write_file(existing, "an earlier FIT");
    for (const fs::path& target : {t / "new.fit", existing}) {
        const run_result r =
            fitpack(pack_args(target.string(), "none") + std::vector<std::string>{"-B", "0x40000000"}, {{epoch_env}, {}, {}, limit});
        check_error(r, target.string(), {"-B 0x40000000 pads", std::strerror(EFBIG)});
        BOOST_TEST((read_file(existing) == "an earlier FIT"));
        BOOST_TEST(directory_names(t.path()) == std::set<std::string>{"old.fit"});
    }
    // Standard output: the padding is copied out, and fails there.
    const run_result r = run({"sh", "-c",
                              "prlimit --fsize=" + std::to_string(4 * MiB) + " \"$0\" \"$@\" > " +
                                  (t / "stdout.fit").string(),
                              fitpack_path, "-o", "-", "-A", "arm64", "-O", "linux", "-n", "Linux", "-c", "none", "-k",
                              in().kernel.string(), in().dtb.string(), "-B", "0x40000000"},
                             {}, {epoch_env});
    check_error(r, "standard output", {"-B 0x40000000 pads", std::strerror(EFBIG)});
}

BOOST_AUTO_TEST_CASE(sigterm_during_a_long_padded_copy_ends_fitpack_at_once) {
    // To standard output (a file here) the 2 GiB of padding are copied out:
    // seconds of writing. SIGTERM must end it within a fraction of that,
    // and the spool file in TMPDIR must not be left.
    temp_dir t, spool;
    const pid_t pid = spawn(std::vector<std::string>{fitpack_path} +
                                pack_args("-", "none") + std::vector<std::string>{"-B", "0x40000000"},
                            t / "stdout.fit", t / "stderr", spool.path().string());
    const auto deadline = clock_type::now() + std::chrono::seconds(60);
    while (clock_type::now() < deadline && !ended(pid)) {
        std::error_code ec;
        if (fs::file_size(t / "stdout.fit", ec) > 16 * MiB && !ec) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    BOOST_TEST_REQUIRE(!ended(pid), "fitpack ended before the copy was under way: " << read_file(t / "stderr"));
    const auto copied = fs::file_size(t / "stdout.fit");
    const auto signalled = clock_type::now();
    ::kill(pid, SIGTERM);
    const auto status = wait_for(pid, 20);
    const double seconds = std::chrono::duration<double>(clock_type::now() - signalled).count();
    BOOST_TEST_REQUIRE(status.has_value(), "fitpack did not end within 20 s of SIGTERM");
    BOOST_TEST((WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM), status_text(*status));
    BOOST_TEST(seconds < 2.0, "fitpack took " << seconds << " s to act on SIGTERM");
    BOOST_TEST(fs::file_size(t / "stdout.fit") < 3 * 1024 * MiB, copied << " bytes before the signal");
    BOOST_TEST(directory_names(spool.path()).empty(), "left in TMPDIR");
}
