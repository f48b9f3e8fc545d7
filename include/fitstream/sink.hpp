// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Where the finished FIT goes. The writer needs random access while it
/// works (payloads first, the structure once the hashes are known), and a
/// user needs the target to change only when the whole FIT is good. So:
///
/// - `file_sink` writes a temporary file beside the target and puts it in
///   place of the target in `commit()`; destroyed without commit, it
///   removes the temporary file and the target is untouched. The temporary
///   file has no name until then (O_TMPFILE), so not even SIGKILL or a
///   power loss leaves it behind; commit() syncs it to the disk first. A
///   device, FIFO or socket as the target is written to, as a stream,
///   never replaced.
/// - `fd_sink` (standard output, a pipe) spools into an anonymous temporary
///   file and copies it to the descriptor in `commit()`, so a pipe still
///   gets the structure first and the payloads after it, and memory stays
///   bounded.
///
/// Every write and copy goes in steps of at most 8 MiB: a signal handler
/// (remove_temporaries_on_signals()) runs only between system calls, and a
/// write of GiB to a file is one system call the kernel does not interrupt.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/io/output_path.hpp>
#include <fitstream/error.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
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

/// The most bytes one write or copy system call is given (see the file
/// comment): small enough that a signal is acted on within a fraction of
/// a second, large enough to cost nothing.
inline constexpr std::size_t io_step = 8u << 20;

/// pwrite_all() in steps of io_step.
inline void pwrite_in_steps(int fd, const void* data, std::size_t size, std::uint64_t offset,
                            const std::string& path) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const std::size_t n = std::min(size, io_step);
        pwrite_all(fd, p, n, offset, path);
        p += n;
        offset += n;
        size -= n;
    }
}

/// A name beside `target` for a temporary file: ".NAME.tmp-PID-N", N
/// counting up in this process.
inline std::string temporary_name_beside(const std::string& target) {
    static std::atomic<unsigned> counter{0};
    const auto [dir, base] = split_directory(target);
    return dir + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

/// A fresh, empty, named file beside `target` that no other process is
/// using; errors name `subject`.
inline unique_fd create_temporary_beside(const std::string& target, std::string& temp_path,
                                         const std::string& subject) {
    const std::string dir = split_directory(target).first;
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp_path = temporary_name_beside(target);
        // 0666 so the file ends up with the permissions the umask allows, as
        // a file made by the shell's redirection would.
        const int fd = ::open(temp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) return unique_fd(fd);
        if (errno != EEXIST)
            throw_os_error(errno, subject,
                           "cannot create a temporary file in " + (dir.empty() ? std::string(".") : dir));
    }
    temp_path.clear();
    throw_os_error(EEXIST, subject, "cannot create a temporary file");
}

/// The path through which an unnamed file's descriptor can be linked.
inline std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

/// An unnamed file (O_TMPFILE) in `target`'s directory, to be linked into
/// place by link_unnamed(); an empty descriptor when this cannot be done
/// here (the filesystem has no O_TMPFILE: EOPNOTSUPP, EISDIR or EINVAL
/// from older kernels; no /proc to link it through), and for any other
/// failure, which creating a named file then reports in its own words.
inline unique_fd create_unnamed_beside(const std::string& target) {
#ifdef O_TMPFILE
    const std::string dir = split_directory(target).first;
    int fd;
    do {
        // 0666 and the umask, as for the named file.
        fd = ::open(dir.empty() ? "." : dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return unique_fd();
    unique_fd owned(fd);
    if (::access(proc_fd_path(fd).c_str(), F_OK) != 0) return unique_fd();
    return owned;
#else
    (void)target;
    return unique_fd();
#endif
}

/// Gives the unnamed file `fd` the name `path` (which must not exist);
/// returns 0 or the errno value (EEXIST when `path` exists).
inline int link_unnamed(int fd, const std::string& path) {
    // AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH; /proc's link does not.
    if (::linkat(AT_FDCWD, proc_fd_path(fd).c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
    return errno;
}

/// fsync() of `fd`; its errors are the write errors not reported before.
inline void sync(int fd, const std::string& subject) {
    while (::fsync(fd) != 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL || errno == EROFS) return;  // a file that cannot be synced (a special file)
        throw_os_error(errno, subject, "cannot write");
    }
}

/// fsync() of the directory holding `target`, so that a rename into it
/// survives a power loss.
inline void sync_directory_of(const std::string& target, const std::string& subject) {
    const std::string dir = split_directory(target).first;
    int fd;
    do {
        fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw_os_error(errno, subject, "cannot sync its directory");
    const unique_fd owned(fd);
    while (::fsync(fd) != 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL || errno == EROFS) return;
        throw_os_error(errno, subject, "cannot sync its directory");
    }
}

/// A stream connection to the Unix socket at `path` (as `-o SOCKET`).
inline unique_fd connect_to_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_os_error(errno, path, "cannot open");
    unique_fd owned(fd);
    // A long path is reached through an O_PATH descriptor's /proc link.
    unique_fd by_path;
    std::string address = path;
    sockaddr_un sa{};
    if (address.size() >= sizeof sa.sun_path) {
        const int p = ::open(path.c_str(), O_PATH | O_CLOEXEC);
        if (p < 0) throw_os_error(errno, path, "cannot open");
        by_path.reset(p);
        address = proc_fd_path(p);
    }
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.c_str(), address.size() + 1);
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) throw_os_error(errno, path, "cannot open (a socket)");
    return owned;
}

/// Copies `size` bytes from the start of `from` to the current position of `to`.
inline void copy_file_contents(int from, int to, std::uint64_t size, const std::string& to_name) {
    off_t offset = 0;
    while (static_cast<std::uint64_t>(offset) < size) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size - offset, io_step));
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

/// The signals remove_temporaries_on_signals() handles, blocked on the
/// calling thread while it lives: they are acted on when it ends.
class signals_deferred {
public:
    signals_deferred() noexcept {
        sigset_t set;
        sigemptyset(&set);
        for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
        ::pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    signals_deferred(const signals_deferred&) = delete;
    signals_deferred& operator=(const signals_deferred&) = delete;
    ~signals_deferred() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

private:
    sigset_t old_;
};

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
        detail::pwrite_in_steps(spool_.get(), data, size, offset, name_);
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

/// Whether file_sink::commit() waits for the data to reach the disk.
enum class file_sync {
    /// fsync() the new file before it replaces the target, and its
    /// directory after: once commit() returns, a power loss leaves the new
    /// file, and before, the old one, never an empty or partial file.
    synced,
    /// Leave both to the kernel's writeback (a crash soon after commit()
    /// may leave an empty or partial file under the target's name).
    unsynced,
};

/// Writes the file at `path`. A regular file (or a new one) is replaced
/// atomically: the FIT is written to a temporary file beside it, unnamed
/// while it is written (O_TMPFILE; a named ".NAME.tmp-*" file where the
/// filesystem has no unnamed ones), and moved over the target by commit().
/// A symbolic link is written through: the file it points to is replaced,
/// the link stays. A character or block device, a FIFO or a Unix socket is
/// written to as a stream, in order, by commit() (see fd_sink), and never
/// replaced: `-o /dev/null` stays a device. See the file comment.
class file_sink final : public sink {
public:
    /// Opens the output: for a file, creates the temporary file beside the
    /// target (the target itself is not touched before commit()); for a
    /// device or FIFO, opens it for writing (a FIFO waits here for its
    /// reader, as a shell's redirection does) and the spool file.
    /// @throws fitstream::error (OS category) when the temporary file cannot
    ///         be created (e.g. the directory is missing or read-only:
    ///         "cannot create a temporary file in DIR"), the target is a
    ///         directory (EISDIR), or a device, FIFO or socket cannot be
    ///         opened ("cannot open")
    explicit file_sink(std::string path, file_sync sync = file_sync::synced) : path_(std::move(path)), sync_(sync) {
        struct stat st {};
        if (::stat(path_.c_str(), &st) == 0) {
            if (S_ISDIR(st.st_mode)) detail::throw_os_error(EISDIR, path_, "cannot write");
            if (!S_ISREG(st.st_mode)) {
                open_stream(st);
                return;
            }
        }
        target_ = detail::resolve_final_symlinks(path_);
        fd_ = detail::create_unnamed_beside(target_);
        if (!fd_) {
            fd_ = detail::create_temporary_beside(target_, temp_path_, path_);
            slot_ = detail::register_temporary(temp_path_);
        }
    }
    file_sink(const file_sink&) = delete;
    file_sink& operator=(const file_sink&) = delete;
    /// Without a successful commit(), removes the temporary file (an
    /// unnamed one vanishes by itself, even when the process is killed):
    /// the target stays as it was (or absent). A stream got nothing.
    ~file_sink() override {
        if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
        detail::unregister_temporary(slot_);
    }

    /// The named temporary file being written, renamed to name() by
    /// commit(); empty while the file has no name (O_TMPFILE) and for a
    /// device, FIFO or socket.
    const std::string& temporary_path() const noexcept { return temp_path_; }

    /// Writes into the temporary (or spool) file.
    /// @throws fitstream::error (OS category, e.g. ENOSPC) naming the target
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        if (stream_) return stream_->write_at(offset, data, size);
        detail::pwrite_in_steps(fd_.get(), data, size, offset, path_);
    }

    /// A file: sizes the temporary file to `total_size`, syncs it (see
    /// file_sync) and puts it in place of the target, which stays whole
    /// until then. A stream: writes the `total_size` bytes to it, in order.
    /// Call it once.
    /// @throws fitstream::error (OS category) naming the target when any
    ///         step fails; the temporary file is then removed by the destructor
    void commit(std::uint64_t total_size) override {
        if (stream_) {
            stream_->commit(total_size);
            if (sync_ == file_sync::synced && stream_is_disk_) detail::sync(stream_fd_.get(), path_);
            committed_ = true;
            return;
        }
        if (::ftruncate(fd_.get(), static_cast<off_t>(total_size)) != 0)
            detail::throw_os_error(errno, path_, "cannot set size");
        if (sync_ == file_sync::synced) detail::sync(fd_.get(), path_);
        if (temp_path_.empty()) {
            place_unnamed();
        } else {
            // close() reports delayed write errors (NFS, full disks) that write() may not.
            if (::close(fd_.release()) != 0) detail::throw_os_error(errno, path_, "cannot write");
            if (::rename(temp_path_.c_str(), target_.c_str()) != 0)
                detail::throw_os_error(errno, path_, "cannot rename");
        }
        committed_ = true;
        if (sync_ == file_sync::synced) detail::sync_directory_of(target_, path_);
    }

    const std::string& name() const noexcept override { return path_; }

private:
    void open_stream(const struct stat& st) {
        stream_is_disk_ = S_ISBLK(st.st_mode);
        if (S_ISSOCK(st.st_mode)) {
            stream_fd_ = detail::connect_to_socket(path_);
        } else {
            int fd;
            do {
                fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
            } while (fd < 0 && errno == EINTR);
            if (fd < 0) detail::throw_os_error(errno, path_, "cannot open");
            stream_fd_.reset(fd);
        }
        stream_.emplace(stream_fd_.get(), path_);
    }

    // The unnamed file goes where the target is. linkat() cannot replace
    // an existing name, and rename() is the only atomic replacement, so a
    // target that exists is replaced by linking the file under a unique
    // temporary name and renaming that over it; a new target gets the file
    // in one step. Between the link and the rename (two system calls) the
    // temporary name exists; SIGINT, SIGTERM and SIGHUP wait (blocked on
    // this thread) until the rename is done, and the name is registered for
    // their cleanup in case another thread takes one. Only SIGKILL or a
    // power loss in that window leaves it. (Writing the target in place
    // would lose the old file on a failure; renameat2(RENAME_EXCHANGE)
    // needs a name for the new file too.)
    void place_unnamed() {
        int rc = detail::link_unnamed(fd_.get(), target_);
        for (int attempt = 0; attempt < 100 && rc == EEXIST; ++attempt) {
            const std::string name = detail::temporary_name_beside(target_);
            const detail::signals_deferred deferred;
            // Registered before the link, so that a signal another thread
            // takes between the link and the rename still removes the name
            // (the name is unique to this process: were it taken, the link
            // fails and the registration goes at once).
            const int slot = detail::register_temporary(name);
            rc = detail::link_unnamed(fd_.get(), name);
            if (rc != 0) {
                detail::unregister_temporary(slot);
                continue;
            }
            const bool renamed = ::rename(name.c_str(), target_.c_str()) == 0;
            const int rename_errno = errno;
            if (!renamed) ::unlink(name.c_str());
            detail::unregister_temporary(slot);
            if (!renamed) detail::throw_os_error(rename_errno, path_, "cannot rename");
        }
        if (rc != 0) detail::throw_os_error(rc, path_, "cannot link the new file into place");
        // Any delayed write error: fsync() has reported it already when synced.
        if (::close(fd_.release()) != 0) detail::throw_os_error(errno, path_, "cannot write");
    }

    std::string path_;    // as given, for messages
    std::string target_;  // the file replaced: path_ with its links followed
    file_sync sync_;
    std::string temp_path_;  // the named temporary file, if there is one
    detail::unique_fd fd_;
    int slot_ = -1;
    bool committed_ = false;
    // A device, FIFO or socket: written through a spool, in order.
    detail::unique_fd stream_fd_;
    std::optional<fd_sink> stream_;
    bool stream_is_disk_ = false;
};
}  // namespace fitstream
