// SPDX-License-Identifier: MIT
#pragma once

// POSIX file primitives with fitstream errors: an owning descriptor and
// read/write loops that retry on EINTR and short transfers.

#include <fitstream/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

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

/// Opens `path` for reading; a directory or other non-regular file is refused
/// with a clear reason rather than failing later on read(). The size of
/// every input is planned before it is read, which a pipe or a device
/// cannot give. O_NONBLOCK keeps open() of a FIFO with no writer from
/// hanging; it is cleared again for the regular file.
inline unique_fd open_for_reading(const std::string& path) {
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw_os_error(errno, path, "cannot open");
    unique_fd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_os_error(errno, path, "cannot stat");
    if (S_ISDIR(st.st_mode)) throw_os_error(EISDIR, path, "cannot read");
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

/// Reads exactly `size` bytes at absolute `offset`, or fails naming `path`.
inline void pread_exact(int fd, void* buffer, std::size_t size, std::uint64_t offset,
                        const std::string& path) {
    auto* out = static_cast<char*>(buffer);
    while (size > 0) {
        const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_os_error(errno, path, "cannot read");
        }
        if (n == 0) throw error(errc::invalid_input, path, "unexpected end of file");
        out += n;
        offset += static_cast<std::uint64_t>(n);
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace detail
}  // namespace fitstream
