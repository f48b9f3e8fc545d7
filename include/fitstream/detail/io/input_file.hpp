// SPDX-License-Identifier: MIT
#pragma once

// The reader's view of a FIT file, read with pread(2), never memory-mapped:
// a mapped file that shrinks under the reader kills it with SIGBUS, which no
// library may do to its caller. The devicetree blocks (the reserve map, the
// nodes with any embedded data, the strings: what libfdt walks) are read
// into memory once; everything past the last of them is not. The FDT
// header's totalsize may be far larger (fitpack -B pads the structure with
// a gap after the strings, up to 1 GiB, and a hostile sparse file can claim
// 4 GiB): that gap is never read, so memory follows the blocks, not the
// claim. The copy's header says totalsize = the loaded length, which is what
// libfdt checks it against; the real totalsize (where external data starts)
// is totalsize(). External data is read on demand, in the caller's bounded
// buffers. A read that finds the file shorter than when it was opened is an
// error naming the file, never a signal. For a FIT already in memory it
// holds an 8-byte aligned copy instead, since libfdt refuses unaligned
// blobs.

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
    /// Opens `path` and reads its devicetree blocks: the FDT header, then,
    /// when the header has the devicetree magic, a version libfdt reads and
    /// blocks that lie inside totalsize and inside the file, the bytes up to
    /// the end of the last block (else only the header, for the reader's
    /// checks to report).
    /// @throws fitstream::error naming `path`: the OS error; errc::bad_image
    ///         when the file shrinks while it is read.
    explicit input_file(const std::string& path) : fd_(open_for_reading(path)), path_(path) {
        const std::uint64_t size = file_size(fd_.get(), path);
        if (size > SIZE_MAX) throw error(errc::limit_exceeded, path, "file too large to read");
        size_ = static_cast<std::size_t>(size);
        const std::size_t want = std::min<std::size_t>(size_, sizeof(fdt_header));
        load(want);
        if (want < sizeof(fdt_header) || fdt_magic(data()) != FDT_MAGIC) return;
        totalsize_ = fdt_totalsize(data());
        const std::uint64_t end = blocks_end();
        if (end == 0) return;  // inconsistent: the reader reports the header
        if (end > want) load(static_cast<std::size_t>(end));
        // The reserve map has no size, only a terminating entry: when it is
        // the last block, load entries until the terminator (or totalsize).
        const std::uint64_t rsv = fdt_off_mem_rsvmap(data());
        for (std::uint64_t at = rsv; at + sizeof(fdt_reserve_entry) <= totalsize_; at += sizeof(fdt_reserve_entry)) {
            if (at + sizeof(fdt_reserve_entry) > loaded_)
                load(static_cast<std::size_t>(
                    std::min<std::uint64_t>(totalsize_, std::max<std::uint64_t>(at + sizeof(fdt_reserve_entry),
                                                                                 2 * static_cast<std::uint64_t>(loaded_)))));
            const auto* entry = reinterpret_cast<const fdt_reserve_entry*>(data() + at);
            if (fdt64_to_cpu(entry->size) == 0) break;
        }
        // libfdt checks every offset against totalsize: the copy's says what
        // is in memory.
        fdt_set_totalsize(copy_.data(), static_cast<std::uint32_t>(loaded_));
    }
    /// An aligned copy of `size` bytes at `data`.
    input_file(const void* data, std::size_t size) : copy_((size + 7) / 8), size_(size), loaded_(size) {
        if (size > 0) std::memcpy(copy_.data(), data, size);
        if (size >= sizeof(fdt_header)) totalsize_ = fdt_totalsize(this->data());
    }

    /// The FDT header's totalsize as the file says it (0 when the file has
    /// no complete header): the structure with its padding; external data
    /// starts after it, rounded up to 4. The copy in data() says loaded().
    std::uint32_t totalsize() const noexcept { return totalsize_; }
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
    // The end of the last block (at least the header), or 0 when a block
    // lies outside totalsize, totalsize outside the file, or the version
    // has no struct block size (v16: then the whole totalsize, as before).
    std::uint64_t blocks_end() const {
        const char* h = data();
        if (fdt_version(h) < 16 || totalsize_ > size_ || totalsize_ < sizeof(fdt_header)) return 0;
        if (fdt_version(h) < 17) return totalsize_;
        const std::uint64_t struct_end = std::uint64_t{fdt_off_dt_struct(h)} + fdt_size_dt_struct(h);
        const std::uint64_t strings_end = std::uint64_t{fdt_off_dt_strings(h)} + fdt_size_dt_strings(h);
        const std::uint64_t rsv_end = std::uint64_t{fdt_off_mem_rsvmap(h)} + sizeof(fdt_reserve_entry);
        if (struct_end > totalsize_ || strings_end > totalsize_ || rsv_end > totalsize_) return 0;
        return std::max({struct_end, strings_end, rsv_end, std::uint64_t{sizeof(fdt_header)}});
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
    std::uint32_t totalsize_ = 0;
};

}  // namespace detail
}  // namespace fitstream
