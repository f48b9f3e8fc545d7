// SPDX-License-Identifier: MIT
#pragma once

// Placement: each image's stored bytes at their final offset in the sink,
// its size, offset and digests in the structure's placeholders, as the
// layout plan says; and, once everything is stored, the structure itself,
// spliced around embedded payloads. Runs on the calling thread, in tree
// order.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/write/layout_plan.hpp>
#include <fitstream/detail/write/structure.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/tree.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

class placement {
public:
    placement(structure& st, sink& out, const layout_plan& plan) : st_(st), out_(out), plan_(plan) {
        stored_sizes_.reserve(st.slots.size());
    }

    // Image `index` starts: its bytes go after everything placed so far.
    void begin(const image& img, std::size_t index) {
        at_ = plan_.place(img, st_.slots[index].data_end, st_.blob.size(), shift_);
        stored_ = 0;
    }

    // Writes the next stored bytes of the current image.
    // @throws errc::limit_exceeded past what its cells can address; the
    //         sink's errors
    void store(const char* data, std::size_t size) {
        at_.check_room(stored_, size);
        out_.write_at(at_.file_offset + stored_, data, size);
        stored_ += size;
    }

    // Image `index` is stored: its digests (concatenated in image::hashes()
    // order), size and offset go into the structure.
    void end(const image& img, std::size_t index, const std::uint8_t* digests) {
        image_slots& slots = st_.slots[index];
        char* blob = st_.blob.data();
        std::size_t at = 0;
        for (std::size_t k = 0; k < slots.hash_value_at.size(); ++k) {
            const std::size_t size = img.hashes()[k].digest_size;
            if (slots.hash_value_at[k] == image_slots::unstored)
                slots.unstored_digests.insert(slots.unstored_digests.end(), digests + at, digests + at + size);
            else
                std::memcpy(blob + slots.hash_value_at[k], digests + at, size);
            at += size;
        }
        // Encrypted: data-size-unciphered follows the digests (image_jobs.hpp).
        if (slots.unciphered_size_at != 0) std::memcpy(blob + slots.unciphered_size_at, digests + at, 4);
        // The limits checked in store() keep these within a cell.
        const auto stored = static_cast<std::uint32_t>(stored_);
        if (plan_.embedded()) {
            fdt32_st(blob + slots.data_end - 8, stored);  // the `data` property's length
        } else {
            fdt32_st(blob + slots.data_size_at, stored);
            fdt32_st(blob + slots.data_offset_at, static_cast<std::uint32_t>(plan_.data_offset(shift_)));
        }
        shift_ += plan_.advance(stored_);
        stored_sizes_.push_back(stored_);
    }

    std::uint64_t file_offset() const { return at_.file_offset; }
    std::uint64_t stored_size() const { return stored_; }
    // Embedded: payload bytes spliced in so far; external: data area used so far.
    std::uint64_t shift() const { return shift_; }

    // Embedded: the header grows by the payloads spliced into the
    // structure block. Call it once every image is placed and signed.
    void grow_header() {
        if (!plan_.embedded()) return;
        void* hdr = st_.blob.data();
        fdt_set_size_dt_struct(hdr, static_cast<std::uint32_t>(fdt_size_dt_struct(hdr) + shift_));
        fdt_set_off_dt_strings(hdr, static_cast<std::uint32_t>(fdt_off_dt_strings(hdr) + shift_));
        fdt_set_totalsize(hdr, static_cast<std::uint32_t>(fdt_totalsize(hdr) + shift_));
    }

    // The FDT totalsize the FIT has once the structure is written
    // (external: with the padding, which is not in the blob).
    std::uint64_t structure_size() const {
        return plan_.embedded() ? st_.blob.size() + shift_ : plan_.padded_structure_size();
    }
    // The size of the FIT file.
    std::uint64_t total_size() const { return plan_.embedded() ? structure_size() : plan_.data_base() + shift_; }

    // The last step, once every payload is stored and the structure is
    // final: writes it (for embedded data, spliced around the payloads
    // already in place; for external data, its padding is left a gap).
    void write_structure() {
        if (!plan_.embedded()) return out_.write_at(0, st_.blob.data(), st_.blob.size());
        std::size_t from = 0;
        std::uint64_t inserted = 0;
        for (std::size_t i = 0; i < st_.slots.size(); ++i) {
            const std::size_t to = st_.slots[i].data_end;
            out_.write_at(from + inserted, st_.blob.data() + from, to - from);
            inserted += align_up(stored_sizes_[i], 4);
            from = to;
        }
        out_.write_at(from + inserted, st_.blob.data() + from, st_.blob.size() - from);
    }

private:
    structure& st_;
    sink& out_;
    const layout_plan& plan_;
    image_place at_;
    std::uint64_t stored_ = 0;
    std::uint64_t shift_ = 0;
    std::vector<std::uint64_t> stored_sizes_;
};

}  // namespace detail
}  // namespace fitstream
