// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Writes a FIT to any Boost.Iostreams *Sink* (a device or a filtering
/// stream's chain), through the same spool file fd_sink uses: the writer
/// needs random access, a Sink offers only a forward write, so the FIT is
/// assembled in an anonymous temporary file and copied out by commit().
///
/// @code
/// std::string bytes;
/// boost::iostreams::back_insert_device<std::string> device(bytes);
/// fitstream::iostreams_sink<decltype(device)> out(device, "memory");
/// fitstream::write_fit(fit, out);
/// @endcode

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sink.hpp>

#include <boost/iostreams/operations.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

namespace fitstream {

/// A sink that hands the finished FIT to a Boost.Iostreams Sink. The
/// device is not owned and must outlive commit().
template <class Device>
class iostreams_sink final : public sink {
public:
    /// @throws fitstream::error (OS category) when the spool file cannot
    ///         be created
    iostreams_sink(Device& device, std::string name)
        : device_(device), name_(std::move(name)), spool_(detail::create_anonymous_temporary()) {}

    /// Writes into the spool file.
    /// @throws fitstream::error (OS category) naming the sink
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        detail::pwrite_in_steps(spool_.get(), data, size, offset, name_);
    }

    /// Writes the first `total_size` bytes of the spool file to the device
    /// (gaps as zeros). Without it nothing reaches the device.
    /// @throws fitstream::error (OS category: EIO when the device accepts
    ///         no more bytes; the spool file's read errors),
    ///         errc::invalid_input when the spool file ended early, or what
    ///         the device throws
    void commit(std::uint64_t total_size) override {
        // Sized first: unwritten gaps (alignment padding past the last
        // payload) are then the file's own zeros, and a read that comes
        // back short is an error, never taken for padding.
        if (::ftruncate(spool_.get(), static_cast<off_t>(total_size)) != 0)
            detail::throw_os_error(errno, name_, "cannot set size");
        std::vector<char> buffer(1u << 20);
        for (std::uint64_t at = 0; at < total_size;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(total_size - at, buffer.size()));
            detail::pread_exact(spool_.get(), buffer.data(), n, at, name_);
            for (std::size_t done = 0; done < n;) {
                const std::streamsize put = boost::iostreams::write(device_, buffer.data() + done,
                                                                    static_cast<std::streamsize>(n - done));
                if (put <= 0) detail::throw_os_error(EIO, name_, "the device accepted no more bytes");
                done += static_cast<std::size_t>(put);
            }
            at += n;
        }
    }

    const std::string& name() const noexcept override { return name_; }

private:
    Device& device_;
    std::string name_;
    detail::unique_fd spool_;
};

}  // namespace fitstream
