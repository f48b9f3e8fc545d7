// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `bzip2`: one bzip2 stream (`BZh` and the block size digit), as the
/// `bzip2` command writes it and U-Boot's bunzip2 reads it.
///
/// No `segments`: bzip2 blocks are independent, but U-Boot decodes one
/// stream, and a stream of blocks made apart needs them joined at bit
/// level (blocks are not byte-aligned) under one combined stream CRC;
/// libbz2 offers neither, and hand-written bit stitching is not worth it
/// for a codec this slow to decode at boot.
///
/// Needs libbz2 (CMake target fitstream::bzip2). Defining FITSTREAM_NO_BZIP2
/// leaves the codec out: this header then declares nothing and needs
/// nothing (see <fitstream/codec/builtin.hpp>).

// The shared headers stay outside the #ifndef: the single header inlines
// each header where it is first included.
#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#ifndef FITSTREAM_NO_BZIP2

#include <fitstream/detail/lib/bzip2.hpp>

namespace fitstream {
namespace codec {

/// FIT `compression = "bzip2"`.
struct bzip2 {
    static constexpr std::string_view fit_name = "bzip2";
    struct options {
        int block_size_100k = 9;  ///< 1..9: blocks of N * 100 000 bytes; 9 is bzip2's default
    };

    /// Writes one bzip2 stream.
    /// @throws fitstream::error (bzip2_category(), BZ_PARAM_ERROR) from the
    ///         constructor for a block size outside 1..9; (bzip2_category())
    ///         when libbz2 fails (BZ_MEM_ERROR: out of memory).
    class encoder : public detail::engine_filter<detail::bzip2_compressor> {
    public:
        encoder(const options& opts, std::uint64_t /*source_size*/) : engine_filter(opts.block_size_100k) {}
    };

    /// Reads one bzip2 stream, verifying its block and stream CRCs.
    /// @throws fitstream::error (bzip2_category()) on corrupt input
    ///         (BZ_DATA_ERROR, BZ_DATA_ERROR_MAGIC) and truncated input
    ///         (BZ_UNEXPECTED_EOF).
    using decoder = detail::engine_filter<detail::bzip2_decompressor>;
};

static_assert(check_decodable_codec<bzip2>());

}  // namespace codec
}  // namespace fitstream

#endif  // FITSTREAM_NO_BZIP2
