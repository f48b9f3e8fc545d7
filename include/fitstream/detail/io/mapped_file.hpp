// SPDX-License-Identifier: MIT
#pragma once

// A read-only memory mapping of a whole file: the reader's view of a FIT.
// Pages are loaded as they are touched, so a large FIT is never read whole
// into memory. For a FIT already in memory it holds an 8-byte aligned copy
// instead, since libfdt refuses unaligned blobs.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

class mapped_file {
public:
    explicit mapped_file(const std::string& path) {
        const unique_fd fd = open_for_reading(path);
        const std::uint64_t size = file_size(fd.get(), path);
        if (size > SIZE_MAX) throw error(errc::limit_exceeded, path, "file too large to map");
        size_ = static_cast<std::size_t>(size);
        if (size_ == 0) return;
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
        if (p == MAP_FAILED) throw_os_error(errno, path, "cannot map");
        (void)::madvise(p, size_, MADV_SEQUENTIAL);
        data_ = static_cast<const char*>(p);
    }
    /// An aligned copy of `size` bytes at `data`.
    mapped_file(const void* data, std::size_t size) : copy_((size + 7) / 8), size_(size) {
        if (size > 0) std::memcpy(copy_.data(), data, size);
        data_ = reinterpret_cast<const char*>(copy_.data());
    }
    mapped_file(mapped_file&& other) noexcept
        : copy_(std::move(other.copy_)),
          data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)) {}
    mapped_file& operator=(mapped_file&&) = delete;
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file() {
        if (data_ && copy_.empty()) ::munmap(const_cast<char*>(data_), size_);
    }

    const char* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }

private:
    std::vector<std::uint64_t> copy_;
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace fitstream
