// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The FIT a kernel build makes: one kernel, an optional ramdisk, and one
/// configuration per devicetree blob, shaped as Linux's scripts/make_fit.py
/// shapes it (`kernel`, `ramdisk`, `fdt-N`, `conf-N`) plus what it leaves
/// out: hashes, a default configuration, each board's compatible in its
/// configuration, and a reproducible timestamp.
///
/// @code
/// fitstream::kernel_fit_options opts;
/// opts.name = "Linux 6.12"; opts.arch = "arm64"; opts.os = "linux";
/// opts.compression = "gzip";
/// auto fit = fitstream::make_kernel_fit(opts, "Image", "", {"a.dtb", "b.dtb"});
/// fitstream::write_fit(fit, "image.fit");
/// @endcode

#include <fitstream/codecs.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hashes.hpp>
#include <fitstream/input.hpp>
#include <fitstream/tree.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace fitstream {

/// What make_kernel_fit() builds.
struct kernel_fit_options {
    std::string name;                           ///< the kernel's description ("Linux-6.12")
    std::string arch;                           ///< FIT arch ("arm64")
    std::string os = "linux";                   ///< FIT os
    std::string compression = "none";           ///< codec for the kernel and DTBs, by FIT name
    std::vector<std::string> hashes{"sha256"};  ///< hash algos for every image; empty for none
    /// When set, the kernel becomes `type = "kernel"` loaded there (U-Boot
    /// before 2024 does not decompress a `kernel_noload` image); otherwise
    /// `kernel_noload` with load and entry 0, as make_fit.py writes it.
    std::optional<std::uint64_t> load;
    std::optional<std::uint64_t> entry;  ///< defaults to `load`
    std::optional<std::uint32_t> timestamp;
    std::string default_configuration;  ///< empty: the first configuration
};

namespace detail {

inline std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline bool has_suffix(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline void apply_codec_and_hashes(image& img, const std::string& compression,
                                   const std::vector<std::string>& hashes) {
    visit_codec(compression, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
    for (const auto& h : hashes) visit_hash(h, [&](auto tag) { img.add_hash<typename decltype(tag)::type>(); });
}

}  // namespace detail

/// Builds the tree for a kernel, an optional ramdisk and a list of DTBs.
/// Only files ending in `.dtb` make configurations, as with make_fit.py;
/// each other file is passed to `skipped` (when set) and left out. A DTB
/// listed twice is stored once and gets a configuration each time.
/// Each DTB is read and checked with fdt_check_full now (its payload is
/// read again, streaming, when the FIT is written).
/// @param ramdisk path, or empty for none (stored uncompressed: a ramdisk
///        is normally compressed already)
/// @throws fitstream::error for an unreadable or invalid DTB (naming it),
///         an unknown codec or hash name, or an invalid default.
inline tree make_kernel_fit(const kernel_fit_options& options, const std::string& kernel, const std::string& ramdisk,
                            const std::vector<std::string>& dtbs,
                            const std::function<void(const std::string&)>& skipped = {}) {
    tree fit;
    fit.description = options.name + " with devicetree set";
    fit.timestamp = options.timestamp;

    image& k = fit.images.emplace_back("kernel", options.load ? "kernel" : "kernel_noload", source::file(kernel));
    k.description = options.name;
    k.arch = options.arch;
    k.os = options.os;
    k.load = options.load.value_or(0);
    k.entry = options.entry ? options.entry : k.load;
    detail::apply_codec_and_hashes(k, options.compression, options.hashes);

    if (!ramdisk.empty()) {
        image& r = fit.images.emplace_back("ramdisk", "ramdisk", source::file(ramdisk));
        r.description = "Ramdisk";
        r.arch = options.arch;
        r.os = options.os;
        detail::apply_codec_and_hashes(r, "none", options.hashes);
    }

    std::unordered_map<std::string, std::string> stored;  // path -> fdt image name
    for (const auto& path : dtbs) {
        if (!detail::has_suffix(path, ".dtb")) {
            if (skipped) skipped(path);
            continue;
        }
        const dtb_info info = inspect_dtb_file(path);
        auto [it, is_new] = stored.try_emplace(path, "fdt-" + std::to_string(stored.size() + 1));
        if (is_new) {
            image& f = fit.images.emplace_back(it->second, "flat_dt", source::file(path));
            f.description = detail::base_name(path);
            f.arch = options.arch;
            detail::apply_codec_and_hashes(f, options.compression, options.hashes);
        }
        configuration& conf = fit.configurations.emplace_back();
        conf.name = "conf-" + std::to_string(fit.configurations.size());
        conf.description = info.model ? *info.model : detail::base_name(path);
        conf.compatible = info.compatible;
        conf.kernel = "kernel";
        conf.fdt = {it->second};
        if (!ramdisk.empty()) conf.ramdisk = "ramdisk";
    }
    if (!options.default_configuration.empty())
        fit.default_configuration = options.default_configuration;
    else if (!fit.configurations.empty())
        fit.default_configuration = fit.configurations.front().name;
    return fit;
}

/// The timestamp reproducible builds ask for: SOURCE_DATE_EPOCH when set.
/// @throws fitstream::error (errc::invalid_argument) when it is set but is
///         not a whole number of seconds that fits the FIT's 32-bit field.
inline std::optional<std::uint32_t> source_date_epoch() {
    const char* value = std::getenv("SOURCE_DATE_EPOCH");
    if (!value || !*value) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const unsigned long long seconds = std::strtoull(value, &end, 10);
    if (*value < '0' || *value > '9' || *end != '\0' || errno == ERANGE || seconds > 0xFFFFFFFFull)
        throw error(errc::invalid_argument, "SOURCE_DATE_EPOCH",
                    std::string("'") + value + "' is not a number of seconds between 0 and 4294967295");
    return static_cast<std::uint32_t>(seconds);
}

}  // namespace fitstream
