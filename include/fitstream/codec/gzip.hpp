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
#include <fitstream/detail/lib/libdeflate.hpp>
#include <fitstream/detail/lib/zlib.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
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
    ///
    /// No dictionary: libdeflate cannot take one. Measured at level 6, the
    /// loss is 0.05 % (107 MB of shared libraries) to 0.2 % (40 MiB
    /// kernel-like payload) against one libdeflate stream, and the result
    /// is still 0.5-0.8 % smaller than pigz -6 (zlib, 128 KiB chunks with
    /// dictionaries).
    class segments {
    public:
        /// What the trailer needs of one segment.
        struct summary {
            std::uint32_t crc = 0;
            std::uint64_t size = 0;
        };

        /// Throws fitstream::error (zlib_category(), Z_STREAM_ERROR) for a
        /// level outside 0..9.
        segments(const options& opts, std::uint64_t /*source_size*/) : level_(checked_level(opts.level)) {}

        /// 1 MiB whatever the input and the thread count. Measured with
        /// libdeflate level 6 (size against one stream, 107 MB of libraries):
        /// 128 KiB +1.3 % and slower (inflating per piece dominates), 256 KiB
        /// +0.7 %, 1 MiB +0.17 %, 4 MiB +0.05 % but coarser for two cores
        /// and four times the memory per segment in flight.
        static constexpr std::size_t bytes_per_segment = std::size_t{1} << 20;
        std::size_t segment_size() const noexcept { return bytes_per_segment; }
        std::size_t dictionary_size() const noexcept { return 0; }

        /// Thread-safe: each call has its own libdeflate compressor.
        summary encode(std::uint64_t /*index*/, const char* /*dict*/, std::size_t /*dict_size*/, const char* in,
                       std::size_t size, bool last, std::vector<char>& out) const {
            detail::deflate_compressor compressor(level_);
            return encode_with(compressor, in, size, last, out);
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

        /// encode() with a compressor the caller keeps (the plain encoder).
        static summary encode_with(detail::deflate_compressor& compressor, const char* in, std::size_t size,
                                   bool last, std::vector<char>& out) {
            const std::size_t begin = out.size();
            compressor.append(in, size, out);
            if (!last) detail::deflate_continue(out, begin);
            return {detail::deflate_crc32(0, in, size), size};
        }

        int level() const noexcept { return level_; }

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

    /// The same bytes as header + segments + trailer, one segment at a time
    /// on the caller's thread; holds one segment of input and its output.
    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t source_size)
            : segments_(opts, source_size), options_(opts), source_size_(source_size),
              compressor_(std::make_unique<detail::deflate_compressor>(segments_.level())) {
            start();
        }

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            queue_.drain(out, out_end);
            while (queue_.empty() && in != in_end) {
                // A full segment is compressed only once more input shows
                // it is not the last one.
                if (block_.size() == segments::bytes_per_segment) compress(false);
                const std::size_t n = std::min(static_cast<std::size_t>(in_end - in), segments::bytes_per_segment - block_.size());
                block_.insert(block_.end(), in, in + n);
                in += n;
                queue_.drain(out, out_end);
            }
            if (flush && in == in_end && !ended_ && queue_.empty()) {
                compress(true);
                std::vector<char> tail;
                segments_.trailer(tail);
                queue_.append(tail.data(), tail.size());
                ended_ = true;
                queue_.drain(out, out_end);
            }
            return !flush || !ended_ || !queue_.empty();
        }

        void close() {
            segments_ = segments(options_, source_size_);
            block_.clear();
            queue_.clear();
            ended_ = false;
            start();
        }

    private:
        void start() {
            std::vector<char> head;
            segments_.header(head);
            queue_.append(head.data(), head.size());
        }
        void compress(bool last) {
            packed_.clear();
            segments_.add(segments::encode_with(*compressor_, block_.data(), block_.size(), last, packed_));
            queue_.append(packed_.data(), packed_.size());
            block_.clear();
        }

        segments segments_;
        options options_;
        std::uint64_t source_size_;
        std::unique_ptr<detail::deflate_compressor> compressor_;
        std::vector<char> block_;   // input of the segment being gathered
        std::vector<char> packed_;  // its compressed bytes
        detail::output_queue queue_;
        bool ended_ = false;
    };

    /// Reads one gzip member (zlib's inflate, gzip wrapper only) and checks
    /// its CRC-32 and size. Throws fitstream::error (zlib_category()) on
    /// corrupt or truncated input.
    class decoder {
    public:
        using char_type = char;
        decoder() : inflater_(std::make_unique<detail::gzip_inflater>()) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return inflater_->step(in, in_end, out, out_end, flush);
        }
        void close() { inflater_->reset(); }

    private:
        std::unique_ptr<detail::gzip_inflater> inflater_;
    };
};

static_assert(check_decodable_codec<gzip>());

}  // namespace codec
}  // namespace fitstream
