// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `lz4`: one LZ4 frame (magic 04 22 4d 18) as U-Boot's ulz4fn reads it:
/// independent blocks of up to 4 MiB, no dictionary ID, a content checksum,
/// and the content size in the frame header when the input size is known.
/// Not the legacy format (`lz4 -l`), which U-Boot rejects.
///
/// Needs liblz4 (CMake target fitstream::lz4).

#include <fitstream/codec.hpp>
#include <fitstream/detail/lz4.hpp>

namespace fitstream {
namespace codec {

/// FIT `compression = "lz4"`.
struct lz4 {
    static constexpr std::string_view fit_name = "lz4";
    struct options {
        int level = 1;  ///< lz4's own default (fast); 3..12 select LZ4_HC, 12 smallest
    };

    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t source_size) : compressor_(opts.level, source_size) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return compressor_.step(in, in_end, out, out_end, flush);
        }
        void close() { compressor_.reset(); }

    private:
        detail::lz4_compressor compressor_;
    };

    /// Reads one LZ4 frame, verifying its checksums and content size.
    /// Throws fitstream::error (lz4_category()) on corrupt or truncated input
    /// and on anything that is not an LZ4 frame.
    class decoder {
    public:
        using char_type = char;
        decoder() = default;

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return decompressor_.step(in, in_end, out, out_end, flush);
        }
        void close() { decompressor_.reset(); }

    private:
        detail::lz4_decompressor decompressor_;
    };
};

static_assert(check_decodable_codec<lz4>());

}  // namespace codec
}  // namespace fitstream
