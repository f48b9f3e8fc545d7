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
/// Needs liblzma (CMake target fitstream::lzma).

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/lib/lzma.hpp>

#include <memory>

namespace fitstream {
namespace codec {

/// FIT `compression = "lzma"`.
struct lzma {
    static constexpr std::string_view fit_name = "lzma";
    struct options {
        int level = 6;  ///< preset 0..9, as `lzma -0` .. `lzma -9`; 6 is the tool's default
    };

    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t /*source_size*/)
            : compressor_(std::make_unique<detail::lzma_alone_compressor>(opts.level)) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return compressor_->step(in, in_end, out, out_end, flush);
        }
        void close() { compressor_->reset(); }

    private:
        std::unique_ptr<detail::lzma_alone_compressor> compressor_;
    };

    /// Reads one LZMA_Alone stream (known size or end marker). Memory use is
    /// capped at 256 MiB whatever the header's dictionary size says.
    /// Throws fitstream::error (lzma_category()) on corrupt or truncated input.
    class decoder {
    public:
        using char_type = char;
        decoder() : decompressor_(std::make_unique<detail::lzma_alone_decompressor>()) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return decompressor_->step(in, in_end, out, out_end, flush);
        }
        void close() { decompressor_->reset(); }

    private:
        std::unique_ptr<detail::lzma_alone_decompressor> decompressor_;
    };
};

static_assert(check_decodable_codec<lzma>());

}  // namespace codec
}  // namespace fitstream
