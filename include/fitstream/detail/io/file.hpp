// SPDX-License-Identifier: MIT
#pragma once

// POSIX file primitives with fitstream errors: an owning descriptor and
// read/write loops that retry on EINTR and short transfers.

#include <fitstream/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

/// An owning file descriptor.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

/// Throws the one error every file fitstream reads gives for a directory:
/// "PATH: Is a directory" (EISDIR, with no words of ours around it).
[[noreturn]] inline void throw_is_a_directory(const std::string& path) { throw_os_error(EISDIR, path); }

/// Throws unless `path` can name a file: a NUL byte (from a response file or a
/// list, never from a command line) would silently cut the name short at
/// open(), so another file would be read. The subject shows each NUL as \0.
inline void check_path_name(const std::string& path) {
    if (path.find('\0') == std::string::npos) return;
    std::string shown;
    for (const char c : path) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
    throw error(errc::invalid_input, shown, "file name holds a NUL byte");
}

/// Opens `path` for reading; a directory or other non-regular file is refused
/// with a clear reason rather than failing later on read(). The size of
/// every input is planned before it is read, which a pipe or a device
/// cannot give. O_NONBLOCK keeps open() of a FIFO with no writer from
/// hanging; it is cleared again for the regular file.
inline unique_fd open_for_reading(const std::string& path) {
    check_path_name(path);
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw_os_error(errno, path, "cannot open");
    unique_fd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_os_error(errno, path, "cannot stat");
    if (S_ISDIR(st.st_mode)) throw_is_a_directory(path);
    if (!S_ISREG(st.st_mode)) throw error(errc::invalid_input, path, "not a regular file (a pipe or device has no size to plan with)");
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) throw_os_error(errno, path, "cannot open");
    return owned;
}

/// The size of the regular file behind `fd`.
inline std::uint64_t file_size(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_os_error(errno, path, "cannot stat");
    return static_cast<std::uint64_t>(st.st_size);
}

/// Reads up to `size` bytes; returns fewer only at end of file.
inline std::size_t read_up_to(int fd, void* buffer, std::size_t size, const std::string& path) {
    auto* out = static_cast<char*>(buffer);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd, out + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_os_error(errno, path, "cannot read");
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

/// Writes all of `size` bytes at the descriptor's current position.
inline void write_all(int fd, const void* buffer, std::size_t size, const std::string& path) {
    const auto* in = static_cast<const char*>(buffer);
    while (size > 0) {
        const ssize_t n = ::write(fd, in, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_os_error(errno, path, "cannot write");
        }
        in += n;
        size -= static_cast<std::size_t>(n);
    }
}

/// Writes all of `size` bytes at absolute `offset`.
inline void pwrite_all(int fd, const void* buffer, std::size_t size, std::uint64_t offset,
                       const std::string& path) {
    const auto* in = static_cast<const char*>(buffer);
    while (size > 0) {
        const ssize_t n = ::pwrite(fd, in, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_os_error(errno, path, "cannot write");
        }
        in += n;
        offset += static_cast<std::uint64_t>(n);
        size -= static_cast<std::size_t>(n);
    }
}

/// Reads up to `size` bytes at absolute `offset`, fewer only at the end of
/// the file; returns how many were read.
inline std::size_t pread_up_to(int fd, void* buffer, std::size_t size, std::uint64_t offset,
                               const std::string& path) {
    auto* out = static_cast<char*>(buffer);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_os_error(errno, path, "cannot read");
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

/// Reads exactly `size` bytes at absolute `offset`, or fails naming `path`
/// (errc::invalid_input at the end of the file).
inline void pread_exact(int fd, void* buffer, std::size_t size, std::uint64_t offset,
                        const std::string& path) {
    if (pread_up_to(fd, buffer, size, offset, path) != size)
        throw error(errc::invalid_input, path, "unexpected end of file");
}

/// Which files read_bounded() takes besides regular ones.
enum class stream_inputs {
    refused,   ///< a pipe or device fails as open_for_reading() says
    accepted,  ///< read up to the limit: a key may come from a pipe
};

/// Overwrites `size` bytes so that the compiler cannot drop the stores
/// (a key's bytes must not outlive the buffer that held them).
inline void wipe(void* data, std::size_t size) noexcept {
    auto* p = static_cast<volatile unsigned char*>(data);
    while (size--) *p++ = 0;
}

/// The one whole-file read: every file that is small by nature (a DTB, a
/// key, a control DTB, a response file, a file list, a Kbuild .cmd file)
/// is read through it, so `--key /dev/zero` or `@/dev/zero` fails instead
/// of filling memory and every such file fails with the same words.
/// Reads `fd` (named `path`, whose role `what` names: "key", "response
/// file") to its end, at most `limit` bytes. A regular file is checked by
/// its size before a byte is read. With `sensitive`, every buffer that held
/// the bytes is wiped before it is freed (key files).
/// @throws fitstream::error: the OS error ("cannot read WHAT" when the file
///         cannot be examined, EISDIR "PATH: Is a directory" for a
///         directory, whether it was named or opened; "cannot read" when a
///         read fails), errc::invalid_input "larger than LIMIT bytes: not a
///         WHAT", or errc::input_changed when a regular file shrank while
///         it was read.
inline std::string read_bounded(int fd, const std::string& path, std::uint64_t limit, const std::string& what,
                                bool sensitive = false) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_os_error(errno, path, "cannot read " + what);
    if (S_ISDIR(st.st_mode)) throw_is_a_directory(path);
    const auto too_large = [&] {
        return error(errc::invalid_input, path, "larger than " + std::to_string(limit) + " bytes: not a " + what);
    };
    const bool regular = S_ISREG(st.st_mode);
    if (regular && static_cast<std::uint64_t>(st.st_size) > limit) throw too_large();
    // A regular file is read into one buffer of its size (+1 to see that it
    // ended); a stream grows its buffer, wiping the old one when asked to.
    std::size_t capacity = regular ? static_cast<std::size_t>(st.st_size) + 1 : 64 * 1024;
    std::string out(capacity, '\0');
    std::size_t used = 0;
    try {
        for (;;) {
            const std::size_t n = read_up_to(fd, out.data() + used, out.size() - used, path);
            used += n;
            if (used > limit) throw too_large();
            if (used < out.size()) break;  // end of file
            // Never past limit + 1 bytes (one more shows the file is too
            // large); `limit` may be the largest value, so no `limit + 1`.
            const std::uint64_t grown = std::min<std::uint64_t>(out.size() * 2, limit);
            std::string bigger(static_cast<std::size_t>(grown == limit ? grown + 1 : grown), '\0');
            std::memcpy(bigger.data(), out.data(), used);
            if (sensitive) wipe(out.data(), out.size());
            out.swap(bigger);
        }
    } catch (...) {
        if (sensitive) wipe(out.data(), out.size());
        throw;
    }
    if (sensitive) wipe(out.data() + used, out.size() - used);
    if (regular && used < static_cast<std::uint64_t>(st.st_size)) {
        if (sensitive) wipe(out.data(), out.size());
        throw error(errc::input_changed, path, "shrank while being read");
    }
    out.resize(used);
    return out;
}

/// read_bounded() of the file at `path`, opened here. With
/// stream_inputs::refused, a pipe or device fails as open_for_reading()
/// says; with ::accepted, it is read up to the limit.
inline std::string read_file_bounded(const std::string& path, std::uint64_t limit, const std::string& what,
                                     stream_inputs streams = stream_inputs::refused, bool sensitive = false) {
    if (streams == stream_inputs::refused) {
        const auto fd = open_for_reading(path);
        return read_bounded(fd.get(), path, limit, what, sensitive);
    }
    check_path_name(path);
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw_os_error(errno, path, "cannot read " + what);
    const unique_fd owned(fd);
    return read_bounded(fd, path, limit, what, sensitive);
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
    const int fallback = ::mkostemp(name.data(), O_CLOEXEC);
    if (fallback < 0) throw_os_error(errno, dir, "cannot create a temporary file");
    ::unlink(name.data());
    return unique_fd(fallback);
}

}  // namespace detail
}  // namespace fitstream
