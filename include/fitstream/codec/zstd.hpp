// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `zstd`: one Zstandard frame (magic 28 b5 2f fd) with a content checksum
/// and, when the input size is known, the content size in its header.
///
/// Needs libzstd (CMake target fitstream::zstd). Defining FITSTREAM_NO_ZSTD
/// leaves the codec out: this header then declares nothing and needs
/// nothing (see <fitstream/codec/builtin.hpp>).

// The shared headers stay outside the #ifndef: the single header inlines
// each header where it is first included.
#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#ifndef FITSTREAM_NO_ZSTD

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

    /// What one encoder holds (libzstd's contexts and, with workers, their
    /// job buffers; see detail::zstd_compressor_memory).
    static std::size_t encoder_memory(const options& opts, std::uint64_t source_size, unsigned threads) {
        const std::uint64_t size = detail::zstd_content_size(source_size);
        return detail::zstd_compressor_memory(opts.level, size,
                                              detail::zstd_threading::workers(size, threads, opts.workers));
    }
    /// Workers a source keeps busy: one per job of 4 MiB, at most `most`;
    /// 1 at or below one job (no workers then).
    static unsigned encoder_threads(const options& /*opts*/, std::uint64_t source_size, unsigned most) {
        if (source_size == unknown_size) return most;
        if (source_size <= detail::zstd_threading::threshold) return 1;
        const std::uint64_t jobs = (source_size - 1) / detail::zstd_threading::job_size + 1;
        return static_cast<unsigned>(std::min<std::uint64_t>(jobs, most));
    }

    /// One frame. A source over 4 MiB, or of unknown size, is compressed by
    /// libzstd's own worker threads in 4 MiB jobs (see
    /// detail::zstd_threading for why these numbers): `threads` of them, at
    /// least one, and the bytes are the same for any count. A smaller
    /// source is compressed on the caller's thread.
    /// @throws fitstream::error (zstd_category()) when libzstd fails: out of
    ///         memory (ZSTD_error_memory_allocation), a parameter it refuses,
    ///         input longer or shorter than a known `source_size`
    ///         (ZSTD_error_srcSize_wrong).
    class encoder : public detail::engine_filter<detail::zstd_compressor> {
    public:
        encoder(const options& opts, std::uint64_t source_size) : encoder(opts, source_size, 1) {}
        encoder(const options& opts, std::uint64_t source_size, unsigned threads)
            : engine_filter(opts.level,
                            detail::zstd_threading::workers(detail::zstd_content_size(source_size), threads,
                                                            opts.workers),
                            detail::zstd_content_size(source_size)) {}
    };

    /// Reads one zstd frame (skippable frames refused), checking the content
    /// checksum and size when present. Windows above 128 MiB are refused.
    /// @throws fitstream::error (zstd_category()) on corrupt input, a frame
    ///         that is not zstd (ZSTD_error_prefix_unknown) and truncated
    ///         input (ZSTD_error_srcSize_wrong).
    using decoder = detail::engine_filter<detail::zstd_decompressor>;
};

static_assert(check_decodable_codec<zstd>());

}  // namespace codec
}  // namespace fitstream

#endif  // FITSTREAM_NO_ZSTD
