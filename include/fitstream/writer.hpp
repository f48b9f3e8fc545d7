// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The streaming writer: the structure is laid out first (placeholders for
/// everything payload-dependent), then each payload streams once through
/// its codec and hashes, in fixed-size chunks, straight to its final place
/// in the output; finally the placeholders are filled and the structure is
/// written in front. Worker threads compress and hash while the calling
/// thread writes in tree order (detail/write/pipeline.hpp); memory holds the
/// structure, what write_options::memory_budget allows in flight, and one
/// input buffer and codec state per worker, whatever the payload sizes.
///
/// @code
/// fitstream::file_sink out("image.fit");
/// fitstream::write_fit(fit, out, {{fitstream::data_layout::external}});
/// @endcode

#include <fitstream/detail/io/output_path.hpp>
#include <fitstream/detail/write/layout_plan.hpp>
#include <fitstream/detail/write/pipeline.hpp>
#include <fitstream/detail/write/placement.hpp>
#include <fitstream/detail/write/signer.hpp>
#include <fitstream/detail/write/structure.hpp>
#include <fitstream/error.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/tree.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
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
    std::vector<image_result> images;  ///< one per image, in tree order
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

/// The default write_options::memory_budget: 16 MiB.
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
    std::size_t memory_budget = default_memory_budget;
    /// Called after each image has been stored, in tree order, on the
    /// calling thread.
    std::function<void(const image&, const image_result&)> on_image;
    /// Called on the calling thread whenever stored bytes have been
    /// written (often: throttle what it displays) and after each image.
    std::function<void(const write_progress&)> on_progress;
};

namespace detail {

// The number of worker threads `options` asks for.
inline unsigned writer_threads(const write_options& options) {
    if (options.threads != 0) return options.threads;
    return std::max(1u, std::thread::hardware_concurrency());
}

// Takes what the pipeline produces to its place, and reports it: results,
// on_image and on_progress. Runs on the calling thread, in tree order.
class placing_consumer final : public pipeline_consumer {
public:
    placing_consumer(const tree& fit, placement& place, const write_options& options, std::uint64_t input_total,
                     signing_stage* signing = nullptr)
        : fit_(fit), place_(place), options_(options), signing_(signing) {
        result.images.reserve(fit.images.size());
        progress_.input_total = input_total;
        progress_.images_total = fit.images.size();
    }

    write_result result;

    void begin_image(std::size_t index) override { place_.begin(fit_.images[index], index); }

    void stored(const char* data, std::size_t size, std::uint64_t input_done) override {
        place_.store(data, size);
        progress_.stored_done += size;
        if (options_.on_progress) {
            write_progress now = progress_;
            now.input_done += input_done;
            options_.on_progress(now);
        }
    }

    void end_image(std::size_t index, const std::uint8_t* digests, std::uint64_t input_size) override {
        const image& img = fit_.images[index];
        const image_result done{input_size, place_.stored_size(), place_.file_offset()};
        place_.end(img, index, digests);
        if (signing_) signing_->image_placed(index);
        result.images.push_back(done);
        progress_.input_done += input_size;
        ++progress_.images_done;
        if (options_.on_image) options_.on_image(img, done);
        if (options_.on_progress) options_.on_progress(progress_);
    }

private:
    const tree& fit_;
    placement& place_;
    const write_options& options_;
    signing_stage* signing_;
    write_progress progress_;
};

}  // namespace detail

/// Writes `fit` to `out` in one pass over the payloads, then commits it.
/// Nothing reaches the final destination unless everything succeeded.
///
/// Payloads are compressed and hashed by `options.threads` workers while
/// the calling thread writes them in tree order (see write_options); the
/// output is the same for any thread count. `out`, on_image and on_progress
/// are used from the calling thread only. Encoders run on the workers,
/// several at once: a codec must not share mutable state between encoders.
/// @returns the sizes and offsets written (see write_result)
/// @throws fitstream::error: an invalid tree or options (errc::invalid_argument,
///         also for a chunk_size of 0 or a layout position inside the
///         structure), an unreadable or changing input (OS category,
///         errc::input_changed), a size or offset past 32 bits
///         (errc::limit_exceeded), a key that cannot sign, or a codec,
///         libfdt or sink failure. When several images fail, the first in
///         tree order is reported, after every worker has stopped. When it
///         throws, `out` is not committed.
inline write_result write_fit(const tree& fit, sink& out, const write_options& options = {});

namespace detail {

/// The writer after the structure: lays out `st` (built for `fit`, with one
/// image_slots entry per image of `fit`, in order), streams every payload
/// into place, signs, writes the structure and commits `out`. Every front
/// end (a tree, an image tree source) ends here. Only `fit.images` is read.
inline write_result write_structured(const tree& fit, structure st, sink& out, const write_options& options) {
    if (options.chunk_size == 0) throw error(errc::invalid_argument, "chunk_size", "must be at least 1 byte");
    detail::layout_plan plan(options.layout);
    plan.place_data_area(st.blob);
    plan.plan_sizes(fit, st.blob.size(), out.name());

    // Phase 1: every payload through codec and hashes, stored in place;
    // each image's size, offset and digests go into the placeholders. The
    // signing stage signs what covers the images placed so far, meanwhile.
    detail::placement place(st, out, plan);
    detail::signing_stage signing(st, fit, detail::writer_threads(options));
    detail::placing_consumer consumer(fit, place, options, plan.input_total(), &signing);
    {
        const detail::tree_image_list images(fit.images);
        detail::pipeline work(images, plan.sizes(), detail::writer_threads(options), options.memory_budget,
                              options.chunk_size);
        work.run(consumer);
        consumer.result.peak_buffered = work.peak_in_flight();
    }
    write_result result = std::move(consumer.result);

    // Phase 2: the structure is final once the last signature is in. The
    // signed regions (U-Boot excludes the data properties) do not change
    // when embedded data is spliced in below, which grows the structure
    // block by what was spliced.
    signing.finish(place.structure_size());
    place.grow_header();

    // Phase 3: write the structure, then commit.
    place.write_structure();
    result.structure_size = place.structure_size();
    result.total_size = place.total_size();
    out.commit(result.total_size);
    return result;
}

}  // namespace detail

inline write_result write_fit(const tree& fit, sink& out, const write_options& options) {
    if (options.chunk_size == 0) throw error(errc::invalid_argument, "chunk_size", "must be at least 1 byte");
    return detail::write_structured(fit, detail::build_structure(fit, options.layout), out, options);
}

namespace detail {

/// Refuses an output path that is one of the inputs (the same file, however
/// it is named): refuse_clashing_files() with `path` as the one output.
template <class ForEachInput>
void refuse_overwriting_inputs(const std::string& path, ForEachInput&& for_each_input) {
    refuse_clashing_files({{"output", path}}, std::forward<ForEachInput>(for_each_input));
}

inline void refuse_overwriting_inputs(const tree& fit, const std::string& path) {
    refuse_overwriting_inputs(path, [&](const auto& visit) {
        for (const auto& img : fit.images)
            if (img.data.is_file()) visit(img.data.name());
    });
}

}  // namespace detail

/// Writes `fit` atomically to the file at `path` (see file_sink).
/// @throws fitstream::error as the other overload, and errc::invalid_argument
///         when `path` is one of the tree's input files.
inline write_result write_fit(const tree& fit, const std::string& path, const write_options& options = {}) {
    detail::refuse_overwriting_inputs(fit, path);
    file_sink out(path);
    return write_fit(fit, out, options);
}

}  // namespace fitstream
