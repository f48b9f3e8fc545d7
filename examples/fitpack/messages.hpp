// SPDX-License-Identifier: MIT
#pragma once

// What fitpack says on standard error besides errors: warnings about the
// tree, and with -v what was packed.

#include <fitstream/fitstream.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace fitpack {

/// A configuration without a root compatible cannot be picked by U-Boot's
/// board matching.
inline void warn_configurations_without_compatible(const fitstream::kernel_fit_report& report) {
    for (const auto& c : report.configurations_without_compatible) {
        // The model and names come from the DTB: escaped and capped as every
        // message's untrusted text is (exit_status.hpp).
        std::cerr << "fitpack: warning: " << fitstream::detail::printable(c.dtb, 1024) << " ("
                  << fitstream::detail::printable(c.description, 1024)
                  << "): the DTB has no root compatible, so U-Boot can pick "
                  << fitstream::detail::printable(c.configuration, 1024) << " only by name or as the default\n";
    }
}

/// Overlays --compress-fdt compressed: U-Boot applies overlays without
/// decompressing them (see fitstream::make_kernel_fit()).
inline void warn_compressed_overlays(const fitstream::fit_plan& plan, const fitstream::kernel_fit_report& report) {
    for (const auto& name : report.compressed_overlays) {
        const fitstream::image img = plan.image_at(plan.find_image(name));
        std::cerr << "fitpack: warning: " << fitstream::detail::printable(img.data.name(), 1024) << " ("
                  << img.name << "): overlay stored "
                  << img.compression() << "-compressed as --compress-fdt says, but U-Boot applies overlays "
                  << "without decompressing them: a configuration applying it will not boot\n";
    }
}

inline void report_deduplication(const fitstream::kernel_fit_report& report) {
    if (report.images_deduplicated == 0) return;
    std::cerr << "fitpack: deduplicated " << report.images_deduplicated << " image"
              << (report.images_deduplicated == 1 ? "" : "s") << " with identical contents, saving "
              << report.bytes_deduplicated << " bytes\n";
}

/// "12.3 MB", in MiB as mkimage and make_fit.py print it.
inline std::string megabytes(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

inline void report_totals(const fitstream::fit_plan& plan, const fitstream::write_result& result, bool external,
                          std::uint64_t input_total) {
    char line[160];
    std::snprintf(line, sizeof line, "FIT size %#llx/%s", static_cast<unsigned long long>(result.total_size),
                  megabytes(result.total_size).c_str());
    std::cerr << line;
    if (external) {
        std::snprintf(line, sizeof line, ", header %#llx/%.1f KB",
                      static_cast<unsigned long long>(result.structure_size),
                      static_cast<double>(result.structure_size) / 1024.0);
        std::cerr << line;
    }
    std::cerr << ", " << plan.image_count() << " files, " << plan.configuration_count()
              << " configurations, uncompressed " << megabytes(input_total) << '\n';
}

}  // namespace fitpack
