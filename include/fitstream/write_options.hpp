// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// How write_fit() works (write_options) and what it reports (write_result,
/// write_progress).

#include <fitstream/layout.hpp>
#include <fitstream/tree.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace fitstream {

/// What happened to one image.
struct image_result {
    std::uint64_t input_size = 0;   ///< bytes read from the source
    std::uint64_t stored_size = 0;  ///< bytes stored (after compression)
    std::uint64_t file_offset = 0;  ///< where the stored bytes start in the FIT file
};

/// What write_fit() produced.
struct write_result {
    std::uint64_t total_size = 0;      ///< size of the FIT file
    std::uint64_t structure_size = 0;  ///< the FDT's totalsize (embedded: including the data)
    std::vector<image_result> images;  ///< one per image, in tree order (empty without write_options::image_results)
    /// The most bytes the workers held in flight at once (input read ahead
    /// and stored bytes not yet written), to compare with
    /// write_options::memory_budget; 0 with one thread.
    std::size_t peak_buffered = 0;
};

/// How far write_fit() has got, for a progress display.
struct write_progress {
    std::uint64_t input_done = 0;   ///< input bytes whose stored bytes are in the output
    std::uint64_t input_total = 0;  ///< input bytes of every image
    std::uint64_t stored_done = 0;  ///< stored bytes written so far
    std::size_t images_done = 0;    ///< images complete
    std::size_t images_total = 0;   ///< images in the tree
};

/// The buffered data an automatic write_options::memory_budget (0, the
/// default) allows: 16 MiB.
inline constexpr std::size_t default_memory_budget = 16u << 20;

/// How write_fit() works.
struct write_options {
    layout_options layout;               ///< embedded or external, alignment, position
    std::size_t chunk_size = 1u << 20;   ///< bytes read (and produced) per step
    /// Worker threads that compress and hash payloads while the calling
    /// thread writes them in tree order; 0: one per core
    /// (std::thread::hardware_concurrency()). 1 runs everything on the
    /// calling thread, one image after the other. The output is the same
    /// bytes for every value.
    unsigned threads = 0;
    /// Bytes the workers may hold in flight: input read ahead for segments,
    /// compressed bytes waiting to be written, and a few hundred bytes of
    /// bookkeeping per queued image. Work ahead of the image being written
    /// stops when it is used up. The job being written may always proceed,
    /// so the budget can be passed by about one job's needs (two chunks, or
    /// one codec segment's input and output), and a budget smaller than that
    /// acts as that. Besides it, each worker holds one input buffer
    /// (chunk_size, or a codec segment and its dictionary), a window of at
    /// most 64 KiB for its encoder's output, and its codec's state.
    /// write_result::peak_buffered reports what was used.
    ///
    /// A budget given (non-zero) also bounds the codecs' state: each
    /// running encoder's memory (lzma's match finder, up to 93 MiB at its
    /// default level; zstd's contexts and workers) counts against it, and
    /// at least one image always runs, so a small budget compresses lzma
    /// images one at a time. Codecs that cut images into segments (gzip,
    /// lz4, lzo, bzip2) keep their state per worker outside it: bzip2's is
    /// about 7.6 MiB, the others' under 1 MiB. 0, the default, is automatic: 16 MiB
    /// (default_memory_budget) of buffered data, and as much codec state as
    /// the threads' encoders need (two lzma encoders with two threads: a
    /// peak of about 150 MiB), so nothing waits for memory.
    std::size_t memory_budget = 0;
    /// Fill write_result::images (24 bytes an image: with a million images,
    /// 24 MiB; on_image sees each result either way).
    bool image_results = true;
    /// Called after each image has been stored, in tree order, on the
    /// calling thread.
    std::function<void(const image&, const image_result&)> on_image;
    /// Called on the calling thread whenever stored bytes have been
    /// written (often: throttle what it displays) and after each image.
    std::function<void(const write_progress&)> on_progress;
};

}  // namespace fitstream
