// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `lzo`: the lzop file format (magic 89 4c 5a 4f 00 0d 0a 1a 0a) around
/// liblzo2's LZO1X, shaped as U-Boot's lzop_decompress needs it: one
/// Adler-32 per block of uncompressed data and no other block checksum,
/// 256 KiB blocks, incompressible blocks stored, mode and mtime zero, no
/// name. `lzop -d` reads it too. See <fitstream/detail/lib/lzo.hpp> for what
/// U-Boot parses and why each field is as it is.
///
/// Needs liblzo2 (CMake target fitstream::lzo). Defining FITSTREAM_NO_LZO
/// leaves the codec out: this header then declares nothing and needs
/// nothing (see <fitstream/codec/builtin.hpp>).

// The shared headers stay outside the #ifndef: the single header inlines
// each header where it is first included.
#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#ifndef FITSTREAM_NO_LZO

#include <fitstream/detail/lib/lzo.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fitstream {
namespace codec {

/// FIT `compression = "lzo"`.
struct lzo {
    static constexpr std::string_view fit_name = "lzo";
    struct options {
        /// As lzop's -1 .. -9: 1 is LZO1X-1(15), 2..6 LZO1X-1, 7..9 LZO1X-999
        /// (much slower, a little smaller). 3 is lzop's default.
        int level = 3;
    };

    /// Segments of 1 MiB, each four 256 KiB lzop blocks (blocks carry
    /// their own sizes and Adler-32: nothing to join). 1 MiB rather than
    /// one block keeps the writer's hand-offs few; LZO1X-1 runs at several
    /// hundred MB/s per core.
    class segments {
    public:
        struct summary {};

        /// @throws fitstream::error (lzo_category(), LZO_E_INVALID_ARGUMENT)
        ///         for a level outside 1..9.
        segments(const options& opts, std::uint64_t /*source_size*/)
            : method_(detail::lzop_method::for_level(opts.level)) {
            detail::lzo_initialise();
        }
        std::size_t segment_size() const noexcept { return 4 * detail::lzop::block_size; }
        std::size_t dictionary_size() const noexcept { return 0; }
        /// Thread-safe: each call has its own work memory.
        summary encode(std::uint64_t /*index*/, const char* /*dict*/, std::size_t /*dict_size*/, const char* in,
                       std::size_t size, bool /*last*/, std::vector<char>& out) const {
            std::unique_ptr<unsigned char[]> work(new unsigned char[method_.work_size]);
            detail::lzop_file::blocks(method_, work.get(), in, size, out);
            return {};
        }
        void header(std::vector<char>& out) const { detail::lzop_file::header(method_, out); }
        void add(const summary&) noexcept {}
        void trailer(std::vector<char>& out) const { detail::lzop_file::end(out); }

    private:
        detail::lzop_method method_;
    };

    /// The segments one after the other: the same bytes.
    /// @throws fitstream::error (lzo_category(), LZO_E_INVALID_ARGUMENT) from
    ///         the constructor for a level outside 1..9.
    using encoder = detail::engine_filter<detail::segments_in_series<lzo>>;

    /// Reads one lzop file, verifying every checksum it carries. Blocks
    /// claiming more than 64 MiB are refused.
    /// @throws fitstream::error (lzo_category()) on corrupt or truncated
    ///         input, and on lzop features U-Boot cannot use (filters, extra
    ///         fields, multipart: LZO_E_NOT_YET_IMPLEMENTED).
    using decoder = detail::engine_filter<detail::lzop_decompressor>;
};

static_assert(check_decodable_codec<lzo>());

}  // namespace codec
}  // namespace fitstream

#endif  // FITSTREAM_NO_LZO
