// SPDX-License-Identifier: MIT
#pragma once

// libdeflate behind RAII: one-shot raw DEFLATE of a buffer, and its CRC-32.
// Only this header includes <libdeflate.h>.
//
// libdeflate and not zlib compresses gzip because it is several times
// faster and a little smaller (docs/bench/codecs.md); the price is that it
// only makes whole streams (no dictionary, last block always final), which
// <fitstream/detail/lib/zlib.hpp>'s deflate_continue() turns into pieces of
// one stream.

#include <fitstream/error.hpp>

#include <libdeflate.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace fitstream {
namespace detail {

struct libdeflate_compressor_deleter {
    void operator()(libdeflate_compressor* p) const noexcept { libdeflate_free_compressor(p); }
};

/// A libdeflate compressor for one level (0..12). One per thread: a
/// compressor is not safe to share, different ones run concurrently.
class deflate_compressor {
public:
    explicit deflate_compressor(int level) : compressor_(libdeflate_alloc_compressor(level)) {
        // The caller checked the level, so NULL means out of memory.
        if (!compressor_) throw std::bad_alloc();
    }

    /// Appends one complete raw DEFLATE stream (RFC 1951, its last block
    /// final) of [in, in + size) to `out`.
    void append(const char* in, std::size_t size, std::vector<char>& out) {
        const std::size_t at = out.size();
        const std::size_t bound = libdeflate_deflate_compress_bound(compressor_.get(), size);
        out.resize(at + bound);
        const std::size_t n = libdeflate_deflate_compress(compressor_.get(), in, size, out.data() + at, bound);
        // libdeflate promises success within its own bound.
        if (n == 0) throw error(errc::unsupported, "gzip", "libdeflate exceeded its own output bound");
        out.resize(at + n);
    }

private:
    std::unique_ptr<libdeflate_compressor, libdeflate_compressor_deleter> compressor_;
};

/// CRC-32 (IEEE 802.3, gzip's) of [data, data + size) continuing `crc`;
/// libdeflate's uses carry-less multiplication where the CPU has it.
inline std::uint32_t deflate_crc32(std::uint32_t crc, const void* data, std::size_t size) noexcept {
    return libdeflate_crc32(crc, data, size);
}

}  // namespace detail
}  // namespace fitstream
