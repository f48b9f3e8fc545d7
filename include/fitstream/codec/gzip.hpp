// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `gzip`: one gzip member (RFC 1952), as U-Boot's gunzip wants: header
/// magic 1f 8b, method 8, mtime 0 and OS byte 3 so output is reproducible.
/// A raw zlib stream would be rejected by U-Boot. The decoder reads one
/// such member back.
///
/// Compression is libdeflate's, in 1 MiB segments joined into one DEFLATE
/// stream the way pigz joins its chunks (see `segments`), so a large image
/// compresses on every core and the bytes never depend on how many. The
/// plain encoder makes the same segments one after the other: equal input
/// and level give equal bytes however the writer runs.
///
/// Needs zlib (the decoder, CRC joining) and libdeflate, which
/// fitstream::core links.

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/detail/lib/libdeflate.hpp>
#include <fitstream/detail/lib/zlib.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fitstream {
namespace codec {

/// FIT `compression = "gzip"`.
struct gzip {
    static constexpr std::string_view fit_name = "gzip";
    struct options {
        int level = 6;  ///< 0 (stored) .. 9 (small); 6 is gzip's and pigz's default
    };

    /// The member cut into segments compressed independently (in parallel
    /// by the writer): each is one libdeflate DEFLATE stream whose last
    /// block is made non-final and followed by an empty stored block, so
    /// the pieces in order form one DEFLATE stream (pigz's layout). The
    /// trailer's CRC-32 is joined from the segments' with crc32_combine.
    /// No dictionary: libdeflate cannot take one (what that costs:
    /// docs/bench/codecs.md).
    class segments {
    public:
        /// What the trailer needs of one segment.
        struct summary {
            std::uint32_t crc = 0;
            std::uint64_t size = 0;
        };

        /// @throws fitstream::error (zlib_category(), Z_STREAM_ERROR) for a
        ///         level outside 0..9.
        segments(const options& opts, std::uint64_t /*source_size*/) : level_(checked_level(opts.level)) {}

        /// 1 MiB whatever the input and the thread count: small enough to
        /// share out, large enough that the size costs little
        /// (docs/bench/codecs.md).
        static constexpr std::size_t bytes_per_segment = std::size_t{1} << 20;
        std::size_t segment_size() const noexcept { return bytes_per_segment; }
        std::size_t dictionary_size() const noexcept { return 0; }

        /// Thread-safe: each call has its own libdeflate compressor.
        /// @throws std::bad_alloc; fitstream::error (zlib_category()) if
        ///         libdeflate's stream cannot be continued.
        summary encode(std::uint64_t /*index*/, const char* /*dict*/, std::size_t /*dict_size*/, const char* in,
                       std::size_t size, bool last, std::vector<char>& out) const {
            detail::deflate_compressor compressor(level_);
            const std::size_t begin = out.size();
            compressor.append(in, size, out);
            if (!last) detail::deflate_continue(out, begin);
            return {detail::deflate_crc32(0, in, size), size};
        }

        /// The 10-byte member header, as zlib writes it for this level: no
        /// name, mtime 0, XFL 2 for level 9 and 4 for levels 0-1, OS 3.
        void header(std::vector<char>& out) const {
            const char xfl = level_ == 9 ? 2 : level_ < 2 ? 4 : 0;
            out.insert(out.end(), {'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', xfl, '\x03'});
        }

        void add(const summary& s) noexcept {
            crc_ = detail::crc32_join(crc_, s.crc, s.size);
            size_ += s.size;
        }

        /// CRC-32 and the size modulo 2^32, little-endian (RFC 1952).
        void trailer(std::vector<char>& out) const {
            for (const std::uint64_t v : {std::uint64_t{crc_}, size_ & 0xffffffffu})
                for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
        }

    private:
        static int checked_level(int level) {
            if (level < 0 || level > 9)
                throw error(std::error_code(Z_STREAM_ERROR, zlib_category()), "gzip", "bad level (valid: 0..9)");
            return level;
        }

        int level_;
        std::uint32_t crc_ = 0;
        std::uint64_t size_ = 0;
    };

    /// The segments one after the other on the caller's thread: the same
    /// bytes; holds one segment of input and its output.
    /// @throws fitstream::error (zlib_category(), Z_STREAM_ERROR) from the
    ///         constructor for a level outside 0..9.
    using encoder = detail::engine_filter<detail::segments_in_series<gzip>>;

    /// Reads one gzip member (zlib's inflate, gzip wrapper only) and checks
    /// its CRC-32 and size.
    /// @throws fitstream::error (zlib_category()) on corrupt input
    ///         (Z_DATA_ERROR) and truncated input (Z_BUF_ERROR).
    using decoder = detail::engine_filter<detail::gzip_inflater>;
};

static_assert(check_decodable_codec<gzip>());

}  // namespace codec
}  // namespace fitstream
