// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Where the finished FIT goes. The writer needs random access while it
/// works (payloads first, the structure once the hashes are known), and a
/// user needs the target to change only when the whole FIT is good. So:
///
/// - `file_sink` writes a temporary file beside the target and renames it
///   over the target in `commit()`; destroyed without commit, it removes
///   the temporary file and the target is untouched.
/// - `fd_sink` (standard output, a pipe) spools into an anonymous temporary
///   file and copies it to the descriptor in `commit()`, so a pipe still
///   gets the structure first and the payloads after it, and memory stays
///   bounded.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <fcntl.h>
#include <sys/sendfile.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace fitstream {

/// A random-access destination for the writer.
class sink {
public:
    virtual ~sink() = default;
    /// Writes `size` bytes at absolute `offset`; unwritten gaps read as zero.
    /// The writer calls it from one thread, in any offset order.
    /// @throws fitstream::error (an implementation's, e.g. OS category)
    virtual void write_at(std::uint64_t offset, const void* data, std::size_t size) = 0;
    /// Makes the output final and exactly `total_size` bytes long. Called
    /// once, after every write_at(), and only when the whole FIT is good.
    /// @throws fitstream::error when the output cannot be made final
    virtual void commit(std::uint64_t total_size) = 0;
    /// The name used in messages.
    virtual const std::string& name() const noexcept = 0;
};

namespace detail {

/// A fresh, empty file beside `target` that no other process is using.
inline unique_fd create_temporary_beside(const std::string& target, std::string& temp_path) {
    const auto slash = target.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string() : target.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp_path = dir + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        // 0666 so the file ends up with the permissions the umask allows, as
        // a file made by the shell's redirection would.
        const int fd = ::open(temp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) return unique_fd(fd);
        if (errno != EEXIST)
            throw_os_error(errno, target,
                           "cannot create a temporary file in " + (dir.empty() ? std::string(".") : dir));
    }
    throw_os_error(EEXIST, target, "cannot create a temporary file");
}

/// An unnamed temporary file in $TMPDIR (or /tmp) that vanishes on close.
inline unique_fd create_anonymous_temporary() {
    const char* env = std::getenv("TMPDIR");
    const std::string dir = env && *env ? env : "/tmp";
#ifdef O_TMPFILE
    const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return unique_fd(fd);
#endif
    std::string pattern = dir + "/fitstream-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fallback = ::mkstemp(name.data());
    if (fallback < 0) throw_os_error(errno, dir, "cannot create a temporary file");
    ::unlink(name.data());
    return unique_fd(fallback);
}

/// Copies `size` bytes from the start of `from` to the current position of `to`.
inline void copy_file_contents(int from, int to, std::uint64_t size, const std::string& to_name) {
    off_t offset = 0;
    while (static_cast<std::uint64_t>(offset) < size) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, 1u << 30));
        const ssize_t n = ::sendfile(to, from, &offset, want);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS)) break;  // descriptor type sendfile cannot do
        if (n < 0) throw_os_error(errno, to_name, "cannot write");
        throw error(errc::input_changed, to_name, "temporary file ended early");
    }
    std::vector<char> buffer(1u << 20);
    while (static_cast<std::uint64_t>(offset) < size) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, buffer.size()));
        pread_exact(from, buffer.data(), want, static_cast<std::uint64_t>(offset), to_name);
        write_all(to, buffer.data(), want, to_name);
        offset += static_cast<off_t>(want);
    }
}

}  // namespace detail

namespace detail {

/// The temporary files live file_sinks own, kept where a signal handler can
/// read them without locks or allocation: a fixed table whose slots are
/// published with an atomic flag after the path is in place.
struct temporary_table {
    static constexpr int slots = 32;
    static constexpr std::size_t max_path = 4096;
    char paths[slots][max_path];
    std::atomic<bool> in_use[slots];
    std::atomic<bool> taken[slots];
};
inline temporary_table temporaries{};  // constant-initialised: safe to read from a handler at any time

/// Records `path` for signal cleanup; returns its slot, or -1 when the
/// table is full or the path too long (the file is then cleaned up only by
/// the destructor).
inline int register_temporary(const std::string& path) noexcept {
    if (path.size() >= temporary_table::max_path) return -1;
    for (int i = 0; i < temporary_table::slots; ++i) {
        bool expected = false;
        if (!temporaries.taken[i].compare_exchange_strong(expected, true)) continue;
        std::memcpy(temporaries.paths[i], path.c_str(), path.size() + 1);
        temporaries.in_use[i].store(true, std::memory_order_release);
        return i;
    }
    return -1;
}

inline void unregister_temporary(int slot) noexcept {
    if (slot < 0) return;
    temporaries.in_use[slot].store(false, std::memory_order_release);
    temporaries.taken[slot].store(false, std::memory_order_release);
}

extern "C" inline void remove_temporaries_and_reraise(int sig) {
    for (int i = 0; i < temporary_table::slots; ++i)
        if (temporaries.in_use[i].load(std::memory_order_acquire)) ::unlink(temporaries.paths[i]);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

}  // namespace detail

/// Makes SIGINT, SIGTERM and SIGHUP remove every file_sink's temporary file
/// before the process dies of the signal as it would have, so an
/// interrupted build leaves neither a half-written FIT nor a stray
/// temporary, and the previous output stays as it was. For programs (like
/// fitpack) that own their signal handling; a library call never installs
/// handlers by itself. At most 32 sinks at once are covered (the others
/// are removed by their destructors only).
/// @throws fitstream::error (OS category) when sigaction() fails
inline void remove_temporaries_on_signals() {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction action {};
        action.sa_handler = detail::remove_temporaries_and_reraise;
        sigemptyset(&action.sa_mask);
        if (::sigaction(sig, &action, nullptr) != 0) detail::throw_os_error(errno, "sigaction");
    }
}

/// Writes a file at `path` atomically: a temporary file beside it, renamed
/// over it by commit(). See the file comment.
class file_sink final : public sink {
public:
    /// Creates the temporary file beside `path`; `path` itself is not
    /// touched before commit().
    /// @throws fitstream::error (OS category) when the temporary file cannot
    ///         be created, e.g. the directory is missing or read-only.
    explicit file_sink(std::string path) : path_(std::move(path)) {
        fd_ = detail::create_temporary_beside(path_, temp_path_);
        slot_ = detail::register_temporary(temp_path_);
    }
    file_sink(const file_sink&) = delete;
    file_sink& operator=(const file_sink&) = delete;
    /// Without a successful commit(), removes the temporary file: the
    /// target stays as it was (or absent).
    ~file_sink() override {
        if (!committed_) ::unlink(temp_path_.c_str());
        detail::unregister_temporary(slot_);
    }

    /// The temporary file being written (renamed to name() by commit()).
    const std::string& temporary_path() const noexcept { return temp_path_; }

    /// Writes into the temporary file.
    /// @throws fitstream::error (OS category, e.g. ENOSPC) naming the target
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        detail::pwrite_all(fd_.get(), data, size, offset, path_);
    }

    /// Sizes the temporary file to `total_size`, closes it and renames it
    /// over the target. Call it once.
    /// @throws fitstream::error (OS category) naming the target when any
    ///         step fails; the temporary file is then removed by the destructor
    void commit(std::uint64_t total_size) override {
        if (::ftruncate(fd_.get(), static_cast<off_t>(total_size)) != 0)
            detail::throw_os_error(errno, path_, "cannot set size");
        // close() reports delayed write errors (NFS, full disks) that write() may not.
        if (::close(fd_.release()) != 0) detail::throw_os_error(errno, path_, "cannot write");
        if (::rename(temp_path_.c_str(), path_.c_str()) != 0) detail::throw_os_error(errno, path_, "cannot rename");
        committed_ = true;
    }

    const std::string& name() const noexcept override { return path_; }

private:
    std::string path_;
    std::string temp_path_;
    detail::unique_fd fd_;
    int slot_ = -1;
    bool committed_ = false;
};

/// Writes to an open descriptor (not owned), e.g. standard output or a
/// pipe, through a spool file. See the file comment.
class fd_sink final : public sink {
public:
    /// @param fd an open descriptor, written only by commit(); not closed
    /// @param name names it in messages ("-", "standard output")
    /// @throws fitstream::error (OS category) when the spool file in
    ///         $TMPDIR (or /tmp) cannot be created
    fd_sink(int fd, std::string name) : fd_(fd), name_(std::move(name)), spool_(detail::create_anonymous_temporary()) {}

    /// Writes into the spool file.
    /// @throws fitstream::error (OS category) naming the sink
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        detail::pwrite_all(spool_.get(), data, size, offset, name_);
    }

    /// Copies the first `total_size` bytes of the spool file to the
    /// descriptor, from its current position. Without it nothing reaches
    /// the descriptor.
    /// @throws fitstream::error (OS category, e.g. EPIPE) naming the sink
    void commit(std::uint64_t total_size) override {
        if (::ftruncate(spool_.get(), static_cast<off_t>(total_size)) != 0)
            detail::throw_os_error(errno, name_, "cannot set size");
        detail::copy_file_contents(spool_.get(), fd_, total_size, name_);
    }

    const std::string& name() const noexcept override { return name_; }

private:
    int fd_;
    std::string name_;
    detail::unique_fd spool_;
};

}  // namespace fitstream
