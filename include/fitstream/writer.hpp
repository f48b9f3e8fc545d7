// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The streaming writer: the structure is laid out first (placeholders for
/// everything payload-dependent), then each payload streams once through
/// its codec and hashes, in fixed-size chunks, straight to its final place
/// in the output; finally the placeholders are filled and the structure is
/// written in front. Worker threads compress and hash while the calling
/// thread writes in tree order (detail/pipeline.hpp); memory holds the
/// structure, what write_options::memory_budget allows in flight, and one
/// input buffer and codec state per worker, whatever the payload sizes.
///
/// @code
/// fitstream::file_sink out("image.fit");
/// fitstream::write_fit(fit, out, {{fitstream::data_layout::external}});
/// @endcode

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/write/pipeline.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/detail/write/signer.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/detail/write/structure.hpp>
#include <fitstream/tree.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
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
    /// (chunk_size, or a codec segment and its dictionary) and its codec's
    /// state. write_result::peak_buffered reports what was used.
    std::size_t memory_budget = default_memory_budget;
    /// Called after each image has been stored, in tree order, on the
    /// calling thread.
    std::function<void(const image&, const image_result&)> on_image;
    /// Called on the calling thread whenever stored bytes have been
    /// written (often: throttle what it displays) and after each image.
    std::function<void(const write_progress&)> on_progress;
};

namespace detail {

/// The number of worker threads `options` asks for.
inline unsigned writer_threads(const write_options& options) {
    if (options.threads != 0) return options.threads;
    return std::max(1u, std::thread::hardware_concurrency());
}

/// Places what the pipeline produces: each image's stored bytes at their
/// final offset in `out`, its size, offset and digests in the structure's
/// placeholders. Runs on the calling thread, in tree order.
class placement final : public pipeline_consumer {
public:
    placement(const tree& fit, structure& st, sink& out, const write_options& options, std::uint64_t data_base,
              std::uint64_t input_total)
        : fit_(fit), st_(st), out_(out), options_(options), data_base_(data_base),
          embedded_(options.layout.layout == data_layout::embedded),
          align_(embedded_ ? 4 : options.layout.align) {
        result.images.reserve(fit.images.size());
        progress_.input_total = input_total;
        progress_.images_total = fit.images.size();
    }

    write_result result;
    /// embedded: payload bytes inserted so far; external: data area used so far
    std::uint64_t shift = 0;

    void begin_image(std::size_t index) override {
        const image& img = fit_.images[index];
        current_ = {};
        limit_what_ = "/images/" + img.name;
        if (embedded_) {
            current_.file_offset = st_.slots[index].data_end + shift;
            limit_ = max_embedded_size - std::min<std::uint64_t>(max_embedded_size, st_.blob.size() + shift);
            limit_what_ += ": data";
        } else {
            current_.file_offset = data_base_ + shift;
            const std::uint64_t start = options_.layout.position ? data_base_ + shift : shift;
            limit_ = max_cell_value - std::min<std::uint64_t>(max_cell_value, start);
            limit_what_ += options_.layout.position ? ": data-position + data-size" : ": data-offset + data-size";
        }
    }

    void stored(const char* data, std::size_t size, std::uint64_t input_done) override {
        if (size > limit_ - current_.stored_size)
            throw error(errc::limit_exceeded, limit_what_,
                        "more than " + std::to_string(limit_) + " bytes stored, past what the FIT's 32-bit "
                        "cells can address");
        out_.write_at(current_.file_offset + current_.stored_size, data, size);
        current_.stored_size += size;
        progress_.stored_done += size;
        if (options_.on_progress) {
            write_progress now = progress_;
            now.input_done += input_done;
            options_.on_progress(now);
        }
    }

    void end_image(std::size_t index, const std::uint8_t* digests, std::uint64_t input_size) override {
        const image& img = fit_.images[index];
        const image_slots& slots = st_.slots[index];
        char* blob = st_.blob.data();
        std::size_t at = 0;
        for (std::size_t k = 0; k < slots.hash_value_at.size(); ++k) {
            std::memcpy(blob + slots.hash_value_at[k], digests + at, img.hashes()[k].digest_size);
            at += img.hashes()[k].digest_size;
        }
        current_.input_size = input_size;
        if (embedded_) {
            store_be32(blob + slots.data_end - 8, static_cast<std::uint32_t>(current_.stored_size));
        } else {
            store_be32(blob + slots.data_size_at, static_cast<std::uint32_t>(current_.stored_size));
            store_be32(blob + slots.data_offset_at,
                       static_cast<std::uint32_t>(options_.layout.position ? data_base_ + shift : shift));
        }
        shift += align_up(current_.stored_size, align_);
        result.images.push_back(current_);
        progress_.input_done += input_size;
        ++progress_.images_done;
        if (options_.on_image) options_.on_image(img, current_);
        if (options_.on_progress) options_.on_progress(progress_);
    }

private:
    const tree& fit_;
    structure& st_;
    sink& out_;
    const write_options& options_;
    const std::uint64_t data_base_;
    const bool embedded_;
    const std::uint64_t align_;
    image_result current_;
    std::uint64_t limit_ = 0;
    std::string limit_what_;
    write_progress progress_;
};

/// The last phase, once every payload is stored and every digest is in the
/// structure: writes the structure (for embedded data, spliced around the
/// payloads already in place) and returns the FIT's total size. Nothing in
/// the structure changes after this point, so whatever must cover the
/// final structure (a signature) is computed before it.
inline void write_structure(structure& st, sink& out, bool embedded, std::uint64_t data_base, std::uint64_t shift,
                            write_result& result) {
    if (embedded) {
        std::size_t from = 0;
        std::uint64_t inserted = 0;
        for (std::size_t i = 0; i < st.slots.size(); ++i) {
            const std::size_t to = st.slots[i].data_end;
            out.write_at(from + inserted, st.blob.data() + from, to - from);
            inserted += align_up(result.images[i].stored_size, 4);
            from = to;
        }
        out.write_at(from + inserted, st.blob.data() + from, st.blob.size() - from);
        result.structure_size = st.blob.size() + shift;
        result.total_size = result.structure_size;
    } else {
        out.write_at(0, st.blob.data(), st.blob.size());
        result.structure_size = st.blob.size();
        result.total_size = data_base + shift;
    }
}

}  // namespace detail

/// Writes `fit` to `out` in one pass over the payloads, then commits it.
/// Nothing reaches the final destination unless everything succeeded.
///
/// Payloads are compressed and hashed by `options.threads` workers while
/// the calling thread writes them in tree order (see write_options); the
/// output is the same for any thread count. `out`, on_image and on_progress
/// are used from the calling thread only. Encoders run on the workers,
/// several at once: a codec must not share mutable state between encoders.
/// @throws fitstream::error: an invalid tree (errc::invalid_argument), an
///         unreadable or changing input (OS category, errc::input_changed),
///         a size or offset past 32 bits (errc::limit_exceeded), or a codec,
///         libfdt or write failure. When several images fail, the first in
///         tree order is reported, after every worker has stopped. When it
///         throws, `out` is not committed.
inline write_result write_fit(const tree& fit, sink& out, const write_options& options = {}) {
    const auto& layout = options.layout;
    if (options.chunk_size == 0) throw error(errc::invalid_argument, "chunk_size", "must be at least 1 byte");
    structure st = build_structure(fit, layout);
    const bool embedded = layout.layout == data_layout::embedded;
    const std::uint64_t align = embedded ? 4 : layout.align;

    // External data starts after the structure padded to the alignment, and
    // the padded size is what the header says, as with mkimage -E -B.
    std::uint64_t data_base = 0;
    if (!embedded) {
        const std::uint64_t padded = align_up(st.blob.size(), std::max<std::uint64_t>(4, align));
        st.blob.resize(static_cast<std::size_t>(padded), '\0');
        fdt_set_totalsize(st.blob.data(), static_cast<std::uint32_t>(padded));
        data_base = padded;
        if (layout.position) {
            if (*layout.position < padded)
                throw error(errc::invalid_argument, "position",
                            "data position " + std::to_string(*layout.position) + " falls inside the " +
                                std::to_string(padded) + "-byte FIT structure");
            data_base = *layout.position;
        }
    }

    // Every input's size is taken now, so a missing file fails before any
    // work, a file that changes size before its turn is caught, and what
    // cannot fit whatever the codecs achieve is refused before a byte is
    // written: images stored as they are have a known size.
    std::vector<std::uint64_t> planned_sizes;
    planned_sizes.reserve(fit.images.size());
    std::uint64_t input_total = 0;
    {
        std::uint64_t known = embedded ? st.blob.size() : (layout.position ? data_base : 0);
        for (const auto& img : fit.images) {
            planned_sizes.push_back(source_size(img.data));
            input_total += planned_sizes.back();
            if (img.compression() == "none") known += align_up(planned_sizes.back(), align);
        }
        if (embedded ? known > max_embedded_size : known > max_cell_value + 1)
            throw error(errc::limit_exceeded, out.name(),
                        std::to_string(known) + " bytes exceed what a FIT can address (" +
                            (embedded ? "2 GiB - 1 with embedded data, libfdt's limit" : "4 GiB of external data") +
                            ")");
    }

    // Phase 1: every payload through codec and hashes, stored in place;
    // each image's size, offset and digests go into the placeholders.
    detail::placement place(fit, st, out, options, data_base, input_total);
    {
        detail::pipeline work(fit.images, planned_sizes, detail::writer_threads(options), options.memory_budget,
                              options.chunk_size);
        work.run(place);
        place.result.peak_buffered = work.peak_in_flight();
    }
    write_result result = std::move(place.result);
    const std::uint64_t shift = place.shift;

    // Phase 2: the structure is final. Signatures first: every digest,
    // size and offset is in the blob now, and the signed region (U-Boot
    // excludes the data properties) does not change when embedded data is
    // spliced in below, which grows the structure block by what was spliced.
    detail::sign_structure(st, st.blob.size() + (embedded ? shift : 0));

    if (embedded) {
        void* hdr = st.blob.data();
        fdt_set_size_dt_struct(hdr, static_cast<std::uint32_t>(fdt_size_dt_struct(hdr) + shift));
        fdt_set_off_dt_strings(hdr, static_cast<std::uint32_t>(fdt_off_dt_strings(hdr) + shift));
        fdt_set_totalsize(hdr, static_cast<std::uint32_t>(fdt_totalsize(hdr) + shift));
    }

    // Phase 3: write the structure, then commit.
    detail::write_structure(st, out, embedded, data_base, shift, result);
    out.commit(result.total_size);
    return result;
}

namespace detail {

/// Refuses an output path that is one of the inputs (the same file, however
/// it is named): the rename would replace the input with the FIT, which is
/// never what the caller meant.
inline void refuse_overwriting_inputs(const tree& fit, const std::string& path) {
    struct stat out {};
    if (::stat(path.c_str(), &out) != 0) return;  // not there yet, so not an input
    for (const auto& img : fit.images) {
        struct stat in {};
        if (img.data.is_file() && ::stat(img.data.name().c_str(), &in) == 0 && in.st_dev == out.st_dev &&
            in.st_ino == out.st_ino)
            throw error(errc::invalid_argument, path, "output would overwrite an input (" + img.data.name() + ")");
    }
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
