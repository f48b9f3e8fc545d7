// SPDX-License-Identifier: MIT
#pragma once

// libdeflate behind RAII: one-shot raw DEFLATE of a buffer, and its CRC-32.
// Only this header includes <libdeflate.h>.
//
// Why libdeflate and not zlib for gzip's compression: on this project's
// machine class (x86-64, level 6), measured over 107 MB of concatenated
// shared libraries and a 40 MiB kernel-like payload:
//   zlib 1.2.13 deflate, one core      31 MB/s  30.50 %   16 MB/s  50.21 %
//   pigz 2.6 -6 -p2 (zlib, 128 KiB)    59 MB/s  30.48 %   32 MB/s  50.23 %
//   libdeflate 1.14 one shot, one core 83 MB/s  30.18 %   86 MB/s  49.69 %
//   libdeflate, 1 MiB segments, 1 core 65 MB/s  30.24 %   62 MB/s  49.81 %
//   libdeflate, 1 MiB segments, 2 cores 125 MB/s 30.24 %  117 MB/s  49.81 %
// libdeflate is 2.7-5x faster than zlib and about 1 % smaller; the price is
// that it only makes whole streams (no dictionary, last block always
// final), which <fitstream/detail/lib/zlib.hpp>'s deflate_continue() turns into
// pieces of one stream.

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
