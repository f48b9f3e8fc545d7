// SPDX-License-Identifier: MIT
#pragma once

// The layout plan: where the data area starts, what every input's size is
// before any is read, and where each image's stored bytes go, with the
// 32-bit limits that follow (see layout.hpp for the rules it implements).
// The structure builder asks it how much room to leave for the padding, and
// the placement asks it where each image goes.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// Payloads are padded to this: 4 with embedded data (the FDT's own
// alignment), options.align with external data.
inline std::uint64_t payload_alignment(const layout_options& options) {
    return options.layout == data_layout::embedded ? 4 : options.align;
}

// Where an image's stored bytes go and how many may be stored there.
struct image_place {
    std::uint64_t file_offset = 0;
    std::uint64_t limit = 0;  // most stored bytes the 32-bit cells can address
    std::string limit_what;   // names the value for the limit's message

    // Refuses `size` more bytes after `stored`.
    // @throws errc::limit_exceeded past what the cells can address
    void check_room(std::uint64_t stored, std::size_t size) const {
        if (size > limit - stored)
            throw error(errc::limit_exceeded, limit_what,
                        "more than " + std::to_string(limit) + " bytes stored, past what the FIT's 32-bit "
                        "cells can address");
    }
};

class layout_plan {
public:
    explicit layout_plan(const layout_options& options)
        : options_(options), embedded_(options.layout == data_layout::embedded),
          align_(payload_alignment(options)) {}

    bool embedded() const { return embedded_; }
    // The file offset where the external data area starts (0 when embedded).
    std::uint64_t data_base() const { return data_base_; }
    // Every input's size, as planned, in tree order.
    const std::vector<std::uint64_t>& sizes() const { return sizes_; }
    std::uint64_t input_total() const { return input_total_; }

    // External data starts after the structure padded to the alignment, and
    // the padded size is what the header says, as with mkimage -E -B; a
    // position moves it further. Sets `blob`'s (a finished FDT's) totalsize
    // to the padded size but leaves the padding out of memory: the blob
    // stays its measured size, the padding is a gap the writer never
    // writes, which every sink reads as zeros (-B 0x80000000 is 2 GiB).
    // @throws errc::limit_exceeded (subject "align") when the padded
    //         structure is past libfdt's 2 GiB - 1 (no reader could open
    //         it: -B 0x80000000); errc::invalid_argument when the position
    //         falls inside the structure
    void place_data_area(std::vector<char>& blob) {
        if (embedded_) return;
        place_data_area(blob.size());
        fdt_set_totalsize(blob.data(), static_cast<std::uint32_t>(structure_size_));
    }

    // The same for a structure of `size` bytes that is not in memory.
    void place_data_area(std::uint64_t size) {
        if (embedded_) return;
        const std::uint64_t padded = align_up(size, std::max<std::uint64_t>(4, align_));
        if (padded > max_embedded_size)
            throw error(errc::limit_exceeded, "align",
                        "alignment " + std::to_string(align_) + " pads the FIT structure to " +
                            std::to_string(padded) + " bytes, past the " + std::to_string(max_embedded_size) +
                            " bytes libfdt (and so U-Boot) can read");
        structure_size_ = padded;
        data_base_ = padded;
        if (options_.position) {
            if (*options_.position < padded)
                throw error(errc::invalid_argument, "position",
                            "data position " + std::to_string(*options_.position) + " falls inside the " +
                                std::to_string(padded) + "-byte FIT structure");
            data_base_ = *options_.position;
        }
    }

    // External: the structure's size with its padding, its FDT totalsize
    // (after place_data_area()).
    std::uint64_t padded_structure_size() const { return structure_size_; }

    // Every input's size is taken now, so a missing file fails before any
    // work, a file that changes size before its turn is caught, and what
    // cannot fit whatever the codecs achieve is refused before a byte is
    // written: images stored as they are have a known size.
    // @param structure_size the structure's size (after place_data_area())
    // @throws errc::limit_exceeded naming `output`, or the source's errors
    void plan_sizes(const tree& fit, std::uint64_t structure_size, const std::string& output) {
        plan_sizes(fit.images.size(), [&](const auto& visit) {
            for (const auto& img : fit.images) visit(img);
        }, structure_size, output);
    }

    // The same for `count` images that `for_each_image(visit)` passes to
    // `visit`, in order.
    template <class ForEachImage>
    void plan_sizes(std::size_t count, ForEachImage&& for_each_image, std::uint64_t structure_size,
                    const std::string& output) {
        sizes_.clear();
        sizes_.reserve(count);
        input_total_ = 0;
        std::uint64_t known = embedded_ ? structure_size : (options_.position ? data_base_ : 0);
        for_each_image([&](const image& img) {
            sizes_.push_back(source_size(img.data));
            input_total_ += sizes_.back();
            if (img.compression() == "none") known += align_up(sizes_.back(), align_);
        });
        if (embedded_ ? known > max_embedded_size : known > max_cell_value + 1)
            throw error(errc::limit_exceeded, output,
                        std::to_string(known) + " bytes exceed what a FIT can address (" +
                            (embedded_ ? "2 GiB - 1 with embedded data, libfdt's limit" : "4 GiB of external data") +
                            ")");
    }

    // Where image `img` goes once `shift` bytes of data precede it
    // (embedded: payload bytes spliced in before it; external: the data
    // area used so far). `data_end` is the end of its empty `data`
    // property and `structure_size` the structure's size without payloads
    // (embedded only).
    image_place place(const image& img, std::uint64_t data_end, std::uint64_t structure_size,
                      std::uint64_t shift) const {
        image_place at;
        at.limit_what = "/images/" + img.name;
        if (embedded_) {
            at.file_offset = data_end + shift;
            at.limit = max_embedded_size - std::min<std::uint64_t>(max_embedded_size, structure_size + shift);
            at.limit_what += ": data";
        } else {
            at.file_offset = data_base_ + shift;
            at.limit = max_cell_value - std::min<std::uint64_t>(max_cell_value, data_offset(shift));
            at.limit_what += options_.position ? ": data-position + data-size" : ": data-offset + data-size";
        }
        return at;
    }

    // External: the `data-offset` (from the data area) or `data-position`
    // (absolute) of an image after `shift` bytes of the data area.
    std::uint64_t data_offset(std::uint64_t shift) const {
        return options_.position ? data_base_ + shift : shift;
    }

    // What an image of `stored` bytes adds to the shift: it is padded.
    std::uint64_t advance(std::uint64_t stored) const { return align_up(stored, align_); }

private:
    const layout_options options_;
    const bool embedded_;
    const std::uint64_t align_;
    std::uint64_t data_base_ = 0;
    std::uint64_t structure_size_ = 0;
    std::vector<std::uint64_t> sizes_;
    std::uint64_t input_total_ = 0;
};

}  // namespace detail
}  // namespace fitstream
