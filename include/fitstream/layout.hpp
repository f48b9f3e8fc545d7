// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Where payload bytes go: embedded in the structure or after it, with
/// which alignment, and the arithmetic and limits that follow.
///
/// External data follows `mkimage -E`: the structure's `totalsize` is padded
/// to the alignment, the data area starts right after it, and each payload's
/// `data-offset` counts from `ALIGN(totalsize, 4)` (U-Boot's rule), with each
/// payload padded to the alignment. With a position (`mkimage -p`), the area
/// starts at that absolute file offset instead and each image carries an
/// absolute `data-position`. Every offset and size is one 32-bit cell: a
/// value that does not fit is refused, never wrapped: what is known before
/// the payloads are read (the structure, images stored as they are) before
/// anything is written, the rest as it is stored.

#include <fitstream/error.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace fitstream {

/// Where image data is stored.
enum class data_layout {
    embedded,  ///< `data` properties inside the structure (plain `mkimage`, make_fit.py)
    external,  ///< after the structure, `data-offset`/`data-size` (`mkimage -E`)
};

/// How the writer lays out payloads.
struct layout_options {
    data_layout layout = data_layout::embedded;
    /// External only: payload alignment in bytes (`mkimage -B`); a power of
    /// two, at least 4. Block or page sizes (0x200, 0x1000) suit loaders
    /// that read whole blocks.
    std::uint32_t align = 4;
    /// External only: the absolute file offset where the data area starts
    /// (`mkimage -p`); images then carry `data-position` instead of
    /// `data-offset`. It must not fall inside the structure.
    std::optional<std::uint64_t> position;
};

/// The largest value a FIT cell holds.
inline constexpr std::uint64_t max_cell_value = std::numeric_limits<std::uint32_t>::max();

/// libfdt addresses a blob with `int`: an embedded FIT cannot pass this.
inline constexpr std::uint64_t max_embedded_size = static_cast<std::uint64_t>(std::numeric_limits<int>::max());

/// Rounds `value` up to a multiple of `align` (a power of two), in 64 bits:
/// it does not wrap at 4 GiB.
constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t align) noexcept {
    return (value + align - 1) & ~(align - 1);
}

/// Throws unless `options` describes a layout U-Boot can read. write_fit()
/// calls it before anything else is done.
/// @throws fitstream::error errc::invalid_argument (subject "align" or
///         "position") for an alignment that is not a power of two of at
///         least 4, a position or alignment with embedded data, or a
///         position that is not a multiple of 4; errc::limit_exceeded for a
///         position past 32 bits
inline void check_layout_options(const layout_options& options) {
    const auto a = options.align;
    if (a < 4 || (a & (a - 1)) != 0)
        throw error(errc::invalid_argument, "align",
                    "alignment " + std::to_string(a) + " is not a power of two of at least 4");
    if (options.layout == data_layout::embedded && (options.position || a != 4))
        throw error(errc::invalid_argument, options.position ? "position" : "align",
                    "applies to external data only");
    if (options.position && *options.position % 4 != 0)
        throw error(errc::invalid_argument, "position",
                    "data position " + std::to_string(*options.position) + " is not a multiple of 4");
    if (options.position && *options.position > max_cell_value)
        throw error(errc::limit_exceeded, "position", "data position " + std::to_string(*options.position));
}

/// Throws errc::limit_exceeded unless `value` fits one 32-bit cell.
/// @param what names the value in the message ("kernel: data-offset").
inline void check_cell(std::uint64_t value, const std::string& what) {
    if (value > max_cell_value)
        throw error(errc::limit_exceeded, what,
                    std::to_string(value) + " bytes exceeds what a 32-bit FIT cell can hold (4 GiB - 1)");
}

}  // namespace fitstream
