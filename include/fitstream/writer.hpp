// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The streaming writer: the structure is laid out first (placeholders for
/// everything payload-dependent), then each payload streams once through
/// its codec and hashes, in fixed-size chunks, straight to its final place
/// in the output; finally the placeholders are filled and the structure is
/// written in front. Memory holds the structure and two chunk buffers,
/// whatever the payload sizes.
///
/// @code
/// fitstream::file_sink out("image.fit");
/// fitstream::write_fit(fit, out, {{fitstream::data_layout::external}});
/// @endcode

#include <fitstream/detail/libfdt.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/signer.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/structure.hpp>
#include <fitstream/tree.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
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
};

/// How write_fit() works.
struct write_options {
    layout_options layout;               ///< embedded or external, alignment, position
    std::size_t chunk_size = 1u << 20;   ///< bytes read (and produced) per step
    /// Called after each image has been stored, in tree order.
    std::function<void(const image&, const image_result&)> on_image;
};

namespace detail {

/// Streams one source through an encoder and hashes into `out` starting at
/// `offset`; `limit` is the largest number of bytes the layout can take.
/// Returns the stored size and writes each digest to `digests[i]`.
inline image_result stream_image(const image& img, std::uint64_t planned_size, sink& out, std::uint64_t offset,
                                 std::uint64_t limit,
                                 const std::string& limit_what, std::size_t chunk_size,
                                 std::vector<char>& in_buffer, std::vector<char>& out_buffer,
                                 std::vector<std::uint8_t*>& digests) {
    source_reader reader(img.data);
    reader.expect_size(planned_size);
    image_result result;
    result.input_size = reader.size();
    result.file_offset = offset;

    auto encoder = img.codec().make_encoder(reader.size(), 1);
    std::vector<std::unique_ptr<hasher_interface>> hashers;
    hashers.reserve(img.hashes().size());
    for (const auto& h : img.hashes()) hashers.push_back(h.make());

    const auto emit = [&](const char* data, std::size_t size) {
        if (size > limit - result.stored_size)
            throw error(errc::limit_exceeded, limit_what,
                        "more than " + std::to_string(limit) + " bytes stored, past what the FIT's 32-bit "
                        "cells can address");
        for (auto& h : hashers) h->update(data, size);
        out.write_at(offset + result.stored_size, data, size);
        result.stored_size += size;
    };

    if (reader.in_memory()) {
        // Memory sources go to the encoder in chunk-sized steps, without a copy.
        const char* memory = reader.memory();
        std::uint64_t done = 0;
        do {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, reader.size() - done));
            run_encoder(*encoder, n ? memory + done : in_buffer.data(), n, done + n == reader.size(), out_buffer.data(),
                        out_buffer.size(), emit);
            done += n;
        } while (done < reader.size());
    } else {
        for (;;) {
            const std::size_t n = reader.read(in_buffer.data(), in_buffer.size());
            // A short read means the end: the reader has checked the size.
            const bool last = n < in_buffer.size();
            run_encoder(*encoder, in_buffer.data(), n, last, out_buffer.data(), out_buffer.size(), emit);
            if (last) break;
        }
    }
    for (std::size_t i = 0; i < hashers.size(); ++i) hashers[i]->final(digests[i]);
    return result;
}

}  // namespace detail

/// Writes `fit` to `out` in one pass over the payloads, then commits it.
/// Nothing reaches the final destination unless everything succeeded.
/// @throws fitstream::error: an invalid tree (errc::invalid_argument), an
///         unreadable or changing input (OS category, errc::input_changed),
///         a size or offset past 32 bits (errc::limit_exceeded), or a codec,
///         libfdt or write failure. When it throws, `out` is not committed.
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
    {
        std::uint64_t known = embedded ? st.blob.size() : (layout.position ? data_base : 0);
        for (const auto& img : fit.images) {
            planned_sizes.push_back(source_size(img.data));
            if (img.compression() == "none") known += align_up(planned_sizes.back(), align);
        }
        if (embedded ? known > max_embedded_size : known > max_cell_value + 1)
            throw error(errc::limit_exceeded, out.name(),
                        std::to_string(known) + " bytes exceed what a FIT can address (" +
                            (embedded ? "2 GiB - 1 with embedded data, libfdt's limit" : "4 GiB of external data") +
                            ")");
    }

    write_result result;
    result.images.reserve(fit.images.size());
    std::vector<char> in_buffer(options.chunk_size);
    std::vector<char> out_buffer(options.chunk_size);
    std::uint64_t shift = 0;  // embedded: payload bytes inserted so far; external: data area used so far

    for (std::size_t i = 0; i < fit.images.size(); ++i) {
        const image& img = fit.images[i];
        image_slots& slots = st.slots[i];
        std::vector<std::uint8_t*> digests;
        for (const auto at : slots.hash_value_at)
            digests.push_back(reinterpret_cast<std::uint8_t*>(st.blob.data() + at));

        std::uint64_t offset, limit;
        std::string limit_what = "/images/" + img.name;
        if (embedded) {
            offset = slots.data_end + shift;
            limit = max_embedded_size - std::min<std::uint64_t>(max_embedded_size, st.blob.size() + shift);
            limit_what += ": data";
        } else {
            offset = data_base + shift;
            const std::uint64_t start = layout.position ? data_base + shift : shift;
            limit = max_cell_value - std::min<std::uint64_t>(max_cell_value, start);
            limit_what += layout.position ? ": data-position + data-size" : ": data-offset + data-size";
        }
        const image_result r = detail::stream_image(img, planned_sizes[i], out, offset, limit, limit_what, options.chunk_size,
                                                    in_buffer, out_buffer, digests);
        if (embedded) {
            detail::store_be32(st.blob.data() + slots.data_end - 8, static_cast<std::uint32_t>(r.stored_size));
        } else {
            detail::store_be32(st.blob.data() + slots.data_size_at, static_cast<std::uint32_t>(r.stored_size));
            detail::store_be32(st.blob.data() + slots.data_offset_at,
                               static_cast<std::uint32_t>(layout.position ? data_base + shift : shift));
        }
        shift += align_up(r.stored_size, align);
        result.images.push_back(r);
        if (options.on_image) options.on_image(img, r);
    }

    // --- Signing (issue 7): every digest, size and offset is in the blob
    // now; fill the signature placeholders before the blob is written.
    detail::sign_structure(st);

    if (embedded) {
        // Splice: the blob's pieces go around the payloads already written.
        void* hdr = st.blob.data();
        fdt_set_size_dt_struct(hdr, static_cast<std::uint32_t>(fdt_size_dt_struct(hdr) + shift));
        fdt_set_off_dt_strings(hdr, static_cast<std::uint32_t>(fdt_off_dt_strings(hdr) + shift));
        fdt_set_totalsize(hdr, static_cast<std::uint32_t>(fdt_totalsize(hdr) + shift));
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
