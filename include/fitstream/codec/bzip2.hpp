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
/// Needs libbz2 (CMake target fitstream::bzip2).

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/lib/bzip2.hpp>

#include <memory>

namespace fitstream {
namespace codec {

/// FIT `compression = "bzip2"`.
struct bzip2 {
    static constexpr std::string_view fit_name = "bzip2";
    struct options {
        int block_size_100k = 9;  ///< 1..9: blocks of N * 100 000 bytes; 9 is bzip2's default
    };

    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t /*source_size*/)
            : compressor_(std::make_unique<detail::bzip2_compressor>(opts.block_size_100k)) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return compressor_->step(in, in_end, out, out_end, flush);
        }
        void close() { compressor_->reset(); }

    private:
        // bz_stream's state points back at it: keep it at a stable address.
        std::unique_ptr<detail::bzip2_compressor> compressor_;
    };

    /// Reads one bzip2 stream, verifying its block and stream CRCs.
    /// Throws fitstream::error (bzip2_category()) on corrupt or truncated input.
    class decoder {
    public:
        using char_type = char;
        decoder() : decompressor_(std::make_unique<detail::bzip2_decompressor>()) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return decompressor_->step(in, in_end, out, out_end, flush);
        }
        void close() { decompressor_->reset(); }

    private:
        std::unique_ptr<detail::bzip2_decompressor> decompressor_;
    };
};

static_assert(check_decodable_codec<bzip2>());

}  // namespace codec
}  // namespace fitstream
