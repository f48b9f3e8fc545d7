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
#include <fitstream/detail/write/streaming.hpp>
#include <fitstream/detail/write/structure.hpp>
#include <fitstream/error.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/plan.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/write_options.hpp>
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
        if (options.image_results) result.images.reserve(fit.images.size());
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
        if (options_.image_results) result.images.push_back(done);
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

namespace detail {

inline bool has_signatures(const tree& fit) {
    for (const auto& img : fit.images)
        if (!img.signatures.empty()) return true;
    for (const auto& conf : fit.configurations)
        if (!conf.signatures.empty()) return true;
    return false;
}

}  // namespace detail

inline write_result write_fit(const tree& fit, sink& out, const write_options& options) {
    if (options.chunk_size == 0) throw error(errc::invalid_argument, "chunk_size", "must be at least 1 byte");
    // Signatures are made over regions of the structure held in memory;
    // everything else streams (the same bytes either way).
    if (detail::has_signatures(fit))
        return detail::write_structured(fit, detail::build_structure(fit, options.layout), out, options);
    return detail::write_streamed(fit_plan(fit), out, options, detail::writer_threads(options));
}

/// Writes `plan` as write_fit() writes the tree it holds (the same bytes).
/// Without signatures, memory holds neither the plan's records nor the
/// structure whole: each node is produced when its image has been stored,
/// and written out. A plan with signatures is made a tree first (the
/// signed regions are hashed from the structure held in memory).
/// @throws fitstream::error as write_fit() for a tree
inline write_result write_fit(const fit_plan& plan, sink& out, const write_options& options = {}) {
    if (options.chunk_size == 0) throw error(errc::invalid_argument, "chunk_size", "must be at least 1 byte");
    if (plan.has_signatures()) return write_fit(plan.to_tree(), out, options);
    return detail::write_streamed(plan, out, options, detail::writer_threads(options));
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

/// Writes `plan` atomically to the file at `path` (see file_sink).
/// @throws fitstream::error as the other overload, and errc::invalid_argument
///         when `path` is one of the plan's input files.
inline write_result write_fit(const fit_plan& plan, const std::string& path, const write_options& options = {}) {
    detail::refuse_overwriting_inputs(path, [&](const auto& visit) {
        for (fit_plan::image_cursor c(plan); !c.done();) {
            const image img = c.next();
            if (img.data.is_file()) visit(img.data.name());
        }
    });
    file_sink out(path);
    return write_fit(plan, out, options);
}

/// Writes `fit` atomically to the file at `path` (see file_sink).
/// @throws fitstream::error as the other overload, and errc::invalid_argument
///         when `path` is one of the tree's input files.
inline write_result write_fit(const tree& fit, const std::string& path, const write_options& options = {}) {
    detail::refuse_overwriting_inputs(fit, path);
    file_sink out(path);
    return write_fit(fit, out, options);
}

}  // namespace fitstream
