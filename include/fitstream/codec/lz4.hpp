// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `lz4`: one LZ4 frame (magic 04 22 4d 18) as U-Boot's ulz4fn reads it:
/// independent blocks of up to 1 MiB, each with a checksum, no dictionary
/// ID, no content checksum, and the content size in the frame header when
/// the input size is known. Not the legacy format (`lz4 -l`), which U-Boot
/// rejects. Blocks are independent, so they are the segments that compress
/// on every core; see <fitstream/detail/lib/lz4.hpp> for why the frame has this
/// shape.
///
/// Needs liblz4 (CMake target fitstream::lz4). Defining FITSTREAM_NO_LZ4
/// leaves the codec out: this header then declares nothing and needs
/// nothing (see <fitstream/codec/builtin.hpp>).

// The shared headers stay outside the #ifndef: the single header inlines
// each header where it is first included.
#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#ifndef FITSTREAM_NO_LZ4

#include <fitstream/detail/lib/lz4.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fitstream {
namespace codec {

/// FIT `compression = "lz4"`.
struct lz4 {
    static constexpr std::string_view fit_name = "lz4";
    struct options {
        int level = 1;  ///< lz4's own default (fast); 3..12 select LZ4_HC, 12 smallest
    };

    /// One segment per block (1 MiB): the header, each block compressed on
    /// its own, the end mark. The same bytes as the encoder. header() and
    /// encode() throw fitstream::error (lz4_category()) when liblz4 fails.
    class segments {
    public:
        struct summary {};  // blocks need nothing joined

        segments(const options& opts, std::uint64_t source_size) : level_(opts.level), source_size_(source_size) {}
        std::size_t segment_size() const noexcept { return detail::lz4_frame::block_size; }
        std::size_t dictionary_size() const noexcept { return 0; }
        /// Thread-safe: each call has its own liblz4 context.
        summary encode(std::uint64_t /*index*/, const char* /*dict*/, std::size_t /*dict_size*/, const char* in,
                       std::size_t size, bool /*last*/, std::vector<char>& out) const {
            detail::lz4_frame::block(level_, in, size, out);
            return {};
        }
        void header(std::vector<char>& out) const { detail::lz4_frame::header(level_, source_size_, out); }
        void add(const summary&) noexcept {}
        void trailer(std::vector<char>& out) const { detail::lz4_frame::end(out); }

    private:
        int level_;
        std::uint64_t source_size_;
    };

    /// Streams the frame, a block per 1 MiB of input.
    /// @throws fitstream::error (lz4_category(), LZ4F_ERROR_frameSize_wrong)
    ///         when the input is longer or shorter than a known
    ///         `source_size`; (lz4_category()) when liblz4 fails.
    class encoder : public detail::engine_filter<detail::lz4_compressor> {
    public:
        encoder(const options& opts, std::uint64_t source_size) : engine_filter(opts.level, source_size) {}
    };

    /// Reads one LZ4 frame, verifying its checksums and content size.
    /// @throws fitstream::error (lz4_category()) on corrupt or truncated
    ///         input and on anything that is not an LZ4 frame
    ///         (LZ4F_ERROR_frameType_unknown).
    using decoder = detail::engine_filter<detail::lz4_decompressor>;
};

static_assert(check_decodable_codec<lz4>());

}  // namespace codec
}  // namespace fitstream

#endif  // FITSTREAM_NO_LZ4
