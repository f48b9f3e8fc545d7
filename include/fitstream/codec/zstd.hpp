// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `zstd`: one Zstandard frame (magic 28 b5 2f fd) with a content checksum
/// and, when the input size is known, the content size in its header.
///
/// Needs libzstd (CMake target fitstream::zstd).

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/lib/zstd.hpp>

namespace fitstream {
namespace codec {

/// FIT `compression = "zstd"`.
struct zstd {
    static constexpr std::string_view fit_name = "zstd";
    struct options {
        int level = 3;    ///< zstd's own default; 1..19 (22 with large windows)
        /// At least this many libzstd worker threads, whatever the writer's
        /// thread count (0: as the writer says). Output is the same for
        /// any number >= 1, but differs from none: a source at most 4 MiB
        /// uses workers only when this asks for them.
        int workers = 0;
    };

    /// One frame. A source over 4 MiB, or of unknown size, is compressed by
    /// libzstd's own worker threads in 4 MiB jobs (see
    /// detail::zstd_threading for why these numbers): `threads` of them, at
    /// least one, and the bytes are the same for any count. A smaller
    /// source is compressed on the caller's thread.
    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t source_size) : encoder(opts, source_size, 1) {}
        encoder(const options& opts, std::uint64_t source_size, unsigned threads)
            : compressor_(opts.level, detail::zstd_threading::workers(zstd_size(source_size), threads, opts.workers),
                          zstd_size(source_size)) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return compressor_.step(in, in_end, out, out_end, flush);
        }
        void close() { compressor_.reset(); }

    private:
        static std::uint64_t zstd_size(std::uint64_t source_size) noexcept {
            return source_size == unknown_size ? ZSTD_CONTENTSIZE_UNKNOWN : source_size;
        }
        detail::zstd_compressor compressor_;
    };

    /// Reads one zstd frame (skippable frames refused), checking the content
    /// checksum and size when present. Windows above 128 MiB are refused.
    /// Throws fitstream::error (zstd_category()) on corrupt or truncated input.
    class decoder {
    public:
        using char_type = char;
        decoder() = default;

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return decompressor_.step(in, in_end, out, out_end, flush);
        }
        void close() { decompressor_.reset(); }

    private:
        detail::zstd_decompressor decompressor_;
    };
};

static_assert(check_decodable_codec<zstd>());

}  // namespace codec
}  // namespace fitstream
