// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `lzma`: LZMA_Alone, the format of the `lzma` command (5 property bytes,
/// a u64 uncompressed size, LZMA1 data), which U-Boot's LzmaTools reads.
/// Not xz and not lzip: U-Boot has no FIT name for those. The size field
/// says "unknown" (all 0xff) and the data ends with an end marker, which
/// U-Boot accepts; see <fitstream/detail/lib/lzma.hpp> for the details.
///
/// No `segments`: LZMA_Alone is one LZMA1 stream whose range coder and
/// dictionary run from the first byte to the last; only xz (LZMA2) has
/// independent blocks, and U-Boot does not read xz.
///
/// Needs liblzma (CMake target fitstream::lzma). Defining FITSTREAM_NO_LZMA
/// leaves the codec out: this header then declares nothing and needs
/// nothing (see <fitstream/codec/builtin.hpp>).

// The shared headers stay outside the #ifndef: the single header inlines
// each header where it is first included.
#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#ifndef FITSTREAM_NO_LZMA

#include <fitstream/detail/lib/lzma.hpp>

namespace fitstream {
namespace codec {

/// FIT `compression = "lzma"`.
struct lzma {
    static constexpr std::string_view fit_name = "lzma";
    struct options {
        int level = 6;  ///< preset 0..9, as `lzma -0` .. `lzma -9`; 6 is the tool's default
    };

    /// What one encoder holds for `source_size` bytes: liblzma's match
    /// finder for the preset's dictionary (93 MiB at 6), less the part of
    /// the window a smaller source never touches (see
    /// detail::lzma_alone_encoder_memory).
    static std::size_t encoder_memory(const options& opts, std::uint64_t source_size, unsigned /*threads*/) {
        return detail::lzma_alone_encoder_memory(opts.level, source_size);
    }

    /// Writes one LZMA_Alone stream.
    /// @throws fitstream::error (lzma_category(), LZMA_OPTIONS_ERROR) from the
    ///         constructor for a level outside 0..9; (lzma_category()) when
    ///         liblzma fails (LZMA_MEM_ERROR: out of memory).
    class encoder : public detail::engine_filter<detail::lzma_alone_compressor> {
    public:
        encoder(const options& opts, std::uint64_t /*source_size*/) : engine_filter(opts.level) {}
    };

    /// Reads one LZMA_Alone stream (known size or end marker). Memory use is
    /// capped at 256 MiB whatever the header's dictionary size says.
    /// @throws fitstream::error (lzma_category()) on corrupt input
    ///         (LZMA_DATA_ERROR, LZMA_FORMAT_ERROR, LZMA_OPTIONS_ERROR), a
    ///         larger dictionary (LZMA_MEMLIMIT_ERROR) and truncated input
    ///         (LZMA_BUF_ERROR).
    using decoder = detail::engine_filter<detail::lzma_alone_decompressor>;
};

static_assert(check_decodable_codec<lzma>());

}  // namespace codec
}  // namespace fitstream

#endif  // FITSTREAM_NO_LZMA
