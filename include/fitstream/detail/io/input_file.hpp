// SPDX-License-Identifier: MIT
#pragma once

// The reader's view of a FIT file, read with pread(2), never memory-mapped:
// a mapped file that shrinks under the reader kills it with SIGBUS, which no
// library may do to its caller. The devicetree structure (the FDT header's
// totalsize: the nodes, the strings and any embedded data, what U-Boot
// loads and libfdt walks) is read into memory once; everything past it
// (external data) is read on demand, in the caller's bounded buffers. A
// read that finds the file shorter than when it was opened is an error
// naming the file, never a signal. For a FIT already in memory it holds an
// 8-byte aligned copy instead, since libfdt refuses unaligned blobs.
//
// (The header keeps its name so that includes elsewhere need not change.)

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>


#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

class input_file {
public:
    /// Opens `path` and reads its devicetree structure: the FDT header, then
    /// totalsize bytes when the header has the devicetree magic and the file
    /// is that long (else only what the header check needs).
    /// @throws fitstream::error naming `path`: the OS error; errc::bad_image
    ///         when the file shrinks while it is read.
    explicit input_file(const std::string& path) : fd_(open_for_reading(path)), path_(path) {
        const std::uint64_t size = file_size(fd_.get(), path);
        if (size > SIZE_MAX) throw error(errc::limit_exceeded, path, "file too large to read");
        size_ = static_cast<std::size_t>(size);
        std::size_t want = std::min<std::size_t>(size_, sizeof(fdt_header));
        load(want);
        if (want == sizeof(fdt_header) && fdt_magic(data()) == FDT_MAGIC && fdt_totalsize(data()) <= size_ &&
            fdt_totalsize(data()) > want)
            load(fdt_totalsize(data()));
    }
    /// An aligned copy of `size` bytes at `data`.
    input_file(const void* data, std::size_t size) : copy_((size + 7) / 8), size_(size), loaded_(size) {
        if (size > 0) std::memcpy(copy_.data(), data, size);
    }

    /// The bytes read into memory (loaded() of them), 8-byte aligned.
    const char* data() const noexcept { return reinterpret_cast<const char*>(copy_.data()); }
    /// The file's size when it was opened.
    std::size_t size() const noexcept { return size_; }
    /// How many bytes from the start are in memory (data()).
    std::size_t loaded() const noexcept { return loaded_; }

    /// `size` bytes at `offset`: a pointer into data() when they are in
    /// memory, else read into `buffer` (resized) and a pointer to it.
    /// @throws fitstream::error naming the file (errc::bad_image) when the
    ///         file has become shorter since it was opened; the OS error.
    const char* bytes(std::uint64_t offset, std::size_t size, std::vector<char>& buffer) const {
        if (offset <= loaded_ && size <= loaded_ - offset) return data() + offset;
        buffer.resize(size);
        const std::size_t got = pread_up_to(fd_.get(), buffer.data(), size, offset, path_);
        if (got != size) throw shrunk(offset + got);
        return buffer.data();
    }

private:
    error shrunk(std::uint64_t at) const {
        return error(errc::bad_image, path_,
                     "file changed while being read: it ends at byte " + std::to_string(at) + ", but had " +
                         std::to_string(size_) + " bytes when opened");
    }
    void load(std::size_t n) {
        copy_.assign((n + 7) / 8, 0);
        const std::size_t got = pread_up_to(fd_.get(), copy_.data(), n, 0, path_);
        if (got != n) throw shrunk(got);
        loaded_ = n;
    }

    unique_fd fd_;
    std::string path_;
    std::vector<std::uint64_t> copy_;
    std::size_t size_ = 0;
    std::size_t loaded_ = 0;
};

}  // namespace detail
}  // namespace fitstream
