// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The FDT structure of a FIT, built with libfdt's sequential writer before
/// any payload byte exists.
///
/// Every value that depends on a payload has a fixed size (`data-size`,
/// `data-offset` and `data-position` are one cell; a hash `value` has its
/// algorithm's digest size), so the structure can be laid out in full with
/// zero placeholders, and the writer fills them in once the payloads have
/// streamed through codec and hash. For embedded data the `data` property is
/// written with length 0 and the payload is spliced in at that point when
/// the file is assembled: the structure in memory never holds payload bytes.

#include <fitstream/detail/libfdt.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/tree.hpp>

#include <cstddef>
#include <vector>

namespace fitstream {

/// Where one image's payload-dependent values sit in the structure blob
/// (byte offsets from the start of the blob).
struct image_slots {
    std::size_t data_end = 0;        ///< embedded: just past the empty `data` property
    std::size_t data_size_at = 0;    ///< external: the `data-size` value
    std::size_t data_offset_at = 0;  ///< external: the `data-offset` or `data-position` value
    std::vector<std::size_t> hash_value_at;  ///< each hash node's `value`, in order
};

/// A finished FDT blob with placeholders, and where they are.
struct structure {
    std::vector<char> blob;
    std::vector<image_slots> slots;  ///< one per image, in tree order
};

namespace detail {

inline void write_image_node(fdt_builder& fdt, const image& img, int address_cells, data_layout layout,
                             bool absolute, image_slots& slots) {
    fdt.begin_node(img.name);
    fdt.property_string("description", img.description.empty() ? img.name : img.description);
    fdt.property_string("type", img.type);
    if (!img.arch.empty()) fdt.property_string("arch", img.arch);
    if (!img.os.empty()) fdt.property_string("os", img.os);
    fdt.property_string("compression", img.compression());
    if (img.load) fdt.property_cells("load", *img.load, address_cells);
    if (img.entry) fdt.property_cells("entry", *img.entry, address_cells);
    // Data last among the properties, as mkimage does: a loader reading only
    // the start of the node still sees everything else.
    if (layout == data_layout::embedded) {
        slots.data_end = fdt.placeholder("data", 0);
    } else {
        slots.data_size_at = fdt.placeholder("data-size", 4);
        slots.data_offset_at = fdt.placeholder(absolute ? "data-position" : "data-offset", 4);
    }
    int n = 0;
    for (const auto& h : img.hashes()) {
        fdt.begin_node("hash-" + std::to_string(++n));
        fdt.property_string("algo", h.fit_name);
        slots.hash_value_at.push_back(fdt.placeholder("value", h.digest_size));
        fdt.end_node();
    }
    fdt.end_node();
}

inline void write_configuration_node(fdt_builder& fdt, const configuration& conf) {
    fdt.begin_node(conf.name);
    fdt.property_string("description", conf.description.empty() ? conf.name : conf.description);
    // The board's compatible belongs here, not in the fdt image node: U-Boot
    // matches configurations by it and cannot open a compressed fdt to look.
    if (!conf.compatible.empty()) fdt.property_strings("compatible", conf.compatible);
    if (!conf.kernel.empty()) fdt.property_string("kernel", conf.kernel);
    if (!conf.fdt.empty()) fdt.property_strings("fdt", conf.fdt);
    if (!conf.ramdisk.empty()) fdt.property_string("ramdisk", conf.ramdisk);
    if (!conf.loadables.empty()) fdt.property_strings("loadables", conf.loadables);
    fdt.end_node();
}

}  // namespace detail

/// Builds the structure of `fit` for `options.layout`, placeholders zero.
/// @throws fitstream::error from tree::validate() or libfdt.
inline structure build_structure(const tree& fit, const layout_options& options) {
    fit.validate();
    check_layout_options(options);
    structure out;
    out.slots.resize(fit.images.size());

    detail::fdt_builder fdt(64 * 1024);
    fdt.begin_node("");
    fdt.property_string("description", fit.description);
    if (fit.timestamp) fdt.property_u32("timestamp", *fit.timestamp);
    fdt.property_u32("#address-cells", static_cast<std::uint32_t>(fit.address_cells));

    fdt.begin_node("images");
    for (std::size_t i = 0; i < fit.images.size(); ++i)
        detail::write_image_node(fdt, fit.images[i], fit.address_cells, options.layout, options.position.has_value(),
                                 out.slots[i]);
    fdt.end_node();

    fdt.begin_node("configurations");
    if (!fit.default_configuration.empty()) fdt.property_string("default", fit.default_configuration);
    for (const auto& conf : fit.configurations) detail::write_configuration_node(fdt, conf);
    fdt.end_node();

    fdt.end_node();
    out.blob = std::move(fdt).finish();
    return out;
}

}  // namespace fitstream
