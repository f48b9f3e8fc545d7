// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Inputs: where an image's bytes come from, a file read in chunks or a
/// block of memory.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <fcntl.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {

/// The bytes of one image: a file read in chunks when the FIT is written,
/// or a block of memory. Copies share the underlying memory.
class source {
public:
    /// A file, opened and read only while the FIT is written (its size is
    /// taken when the write starts; a file that changes size after that
    /// fails the write with errc::input_changed).
    static source file(std::string path) {
        source s;
        s.name_ = std::move(path);
        return s;
    }
    /// `length` bytes of a file from byte `offset` (an image tree source's
    /// `/incbin/("file", offset, length)`). The file may be longer; it must
    /// hold the range when the FIT is written.
    static source file_range(std::string path, std::uint64_t offset, std::uint64_t length) {
        source s;
        s.name_ = std::move(path);
        s.offset_ = offset;
        s.range_length_ = length;
        return s;
    }
    /// Memory the source owns; `name` appears in messages.
    static source memory(std::vector<char> bytes, std::string name) {
        source s;
        s.name_ = std::move(name);
        s.owned_ = std::make_shared<const std::vector<char>>(std::move(bytes));
        s.data_ = s.owned_->data();
        s.size_ = s.owned_->size();
        s.in_memory_ = true;
        return s;
    }
    /// Memory the caller keeps alive until the FIT is written; `data` may be
    /// null when `size` is 0.
    static source memory_view(const void* data, std::size_t size, std::string name) {
        source s;
        s.name_ = std::move(name);
        s.data_ = static_cast<const char*>(data);
        s.size_ = size;
        s.in_memory_ = true;
        return s;
    }

    /// The file path, or the name given to a memory source.
    const std::string& name() const noexcept { return name_; }
    bool is_file() const noexcept { return !in_memory_; }
    /// Files: where the bytes start in the file (0 unless a file_range).
    std::uint64_t offset() const noexcept { return offset_; }
    /// Files: the range's length, when the source is a file_range.
    const std::optional<std::uint64_t>& range_length() const noexcept { return range_length_; }
    /// Memory sources only: the bytes.
    const char* data() const noexcept { return data_; }
    /// Memory sources only: the size.
    std::size_t memory_size() const noexcept { return size_; }

private:
    std::string name_;
    std::shared_ptr<const std::vector<char>> owned_;
    const char* data_ = nullptr;
    std::size_t size_ = 0;
    bool in_memory_ = false;
    std::uint64_t offset_ = 0;
    std::optional<std::uint64_t> range_length_;
};

namespace detail {

/// The size of file source `src` opened as `fd`: the file's size, or for a
/// range its length once the file is known to hold it.
/// @throws errc::input_changed when the file ends before the range does
inline std::uint64_t file_source_size(const source& src, int fd) {
    const std::uint64_t size = file_size(fd, src.name());
    if (!src.range_length()) return size;
    const std::uint64_t length = *src.range_length();
    if (src.offset() > size || length > size - src.offset())
        throw error(errc::input_changed, src.name(),
                    "holds " + std::to_string(size) + " bytes, too few for " + std::to_string(length) +
                        " bytes from offset " + std::to_string(src.offset()));
    return length;
}

}  // namespace detail

/// The size of a source now: a file's size on disk, a memory block's length.
/// @throws fitstream::error (OS category) when the file cannot be opened or
///         is a directory; errc::invalid_input when it is not a regular
///         file (a pipe or device has no size to plan with).
inline std::uint64_t source_size(const source& src) {
    if (!src.is_file()) return src.memory_size();
    const auto fd = detail::open_for_reading(src.name());
    return detail::file_source_size(src, fd.get());
}

namespace detail {

/// The error of an input that ended before, or went on past, the size it
/// was planned with (`more`: it went on).
inline error input_changed_while_read(const std::string& name, std::uint64_t expected, std::uint64_t got,
                                      bool more) {
    return error(errc::input_changed, name,
                 "changed size while being read (" + std::to_string(expected) + " bytes expected, " +
                     std::to_string(got) + (more ? "+" : "") + " read)");
}

/// Reads a source start to end. The size is taken when it is opened; the
/// reader fails if the file then turns out longer or shorter, so a file
/// rewritten during the build cannot slip a mismatched size into the FIT.
class source_reader {
public:
    explicit source_reader(const source& src) : src_(&src) {
        if (src.is_file()) {
            fd_ = open_for_reading(src.name());
            size_ = file_source_size(src, fd_.get());
            // The file (or its range) will be read once, front to back.
            (void)::posix_fadvise(fd_.get(), static_cast<off_t>(src.offset()), 0, POSIX_FADV_SEQUENTIAL);
        } else {
            size_ = src.memory_size();
        }
    }

    std::uint64_t size() const noexcept { return size_; }

    /// Memory sources need no reads: the writer takes their bytes directly.
    bool in_memory() const noexcept { return !src_->is_file(); }
    /// For memory sources: the whole input, no copy (null when empty).
    const char* memory() const noexcept { return src_->data(); }

    /// Throws errc::input_changed unless the source still has
    /// `expected_size` bytes, e.g. the size it had when the FIT was planned.
    void expect_size(std::uint64_t expected_size) const {
        if (size_ != expected_size)
            throw error(errc::input_changed, src_->name(),
                        "changed size before it was read (" + std::to_string(expected_size) + " bytes when planned, " +
                            std::to_string(size_) + " now)");
    }

    /// Reads the next bytes into `buffer`; returns 0 at the end.
    std::size_t read(char* buffer, std::size_t capacity) {
        std::size_t n;
        if (src_->range_length()) {
            // A range of a longer file: read no further than its end, and
            // fail only when the file has shrunk under it.
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(capacity, size_ - done_));
            n = pread_up_to(fd_.get(), buffer, want, src_->offset() + done_, src_->name());
            if (n < want) throw input_changed_while_read(src_->name(), size_, done_ + n, false);
        } else if (src_->is_file()) {
            n = read_up_to(fd_.get(), buffer, capacity, src_->name());
        } else {
            n = static_cast<std::size_t>(std::min<std::uint64_t>(capacity, size_ - done_));
            if (n > 0) std::memcpy(buffer, src_->data() + done_, n);
        }
        done_ += n;
        if (done_ > size_ || (n < capacity && done_ != size_))
            throw input_changed_while_read(src_->name(), size_, done_, done_ > size_);
        return n;
    }

private:
    const source* src_;
    unique_fd fd_;
    std::uint64_t size_ = 0;
    std::uint64_t done_ = 0;
};

}  // namespace detail

}  // namespace fitstream
