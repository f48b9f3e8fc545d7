// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The FIT a kernel build makes: a kernel, an optional ramdisk, and one
/// configuration per devicetree blob, shaped as Linux's scripts/make_fit.py
/// shapes it (`kernel`, `ramdisk`, `fdt-N`, `conf-N`) plus what it leaves
/// out: hashes, a default configuration, each board's compatible in its
/// configuration, and a reproducible timestamp. Beyond make_fit.py:
/// composite DTBs taken apart as `make_fit.py -D` does, identical payloads
/// stored once, overlays and explicit configurations, a codec per image
/// kind, loadables, FITs of devicetrees only, 64-bit addresses,
/// configurations named after their DTBs, and the list of files read (for
/// a Make/Ninja depfile: see kbuild/depfile.hpp).
///
/// @code
/// fitstream::kernel_fit_options opts;
/// opts.name = "Linux 6.12"; opts.arch = "arm64"; opts.os = "linux";
/// opts.compression = "gzip"; opts.fdt_compression = "none";
/// fitstream::kernel_fit_report report;
/// auto fit = fitstream::make_kernel_fit(opts, "Image", "", {"a.dtb", "b.dtb"}, {}, &report);
/// fitstream::write_fit(fit, "image.fit");
/// @endcode

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/kbuild/cmd_file.hpp>
#include <fitstream/detail/kbuild/dedup.hpp>
#include <fitstream/detail/kbuild/naming.hpp>
#include <fitstream/detail/kbuild/read_ahead.hpp>
#include <fitstream/detail/kbuild/string_index.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace fitstream {

/// How the configurations made from DTB files are named.
enum class conf_naming {
    sequence,  ///< `conf-1`, `conf-2`, ... in input order (make_fit.py, Kbuild)
    basename,  ///< `conf-<DTB file name>` (`conf-board.dtb`), as Yocto names them
};

/// One extra image (firmware, TEE, ATF blob, ...) that every configuration
/// lists in `loadables`.
struct loadable_spec {
    std::string path;                    ///< the file
    std::string name;                    ///< node name; empty: `loadable-N`
    std::string type = "firmware";       ///< FIT `type`
    std::string description;             ///< empty: the file's base name
    std::string arch;                    ///< empty: kernel_fit_options::arch
    std::string os;                      ///< FIT `os`; empty: none written
    std::optional<std::uint64_t> load;   ///< FIT `load`
    std::optional<std::uint64_t> entry;  ///< FIT `entry`
    std::string compression = "none";    ///< codec, by FIT name
};

/// A configuration described explicitly: a base DTB and overlays applied
/// to it. Its description and compatible come from the base DTB.
struct configuration_spec {
    std::string name;                   ///< node name under /configurations
    std::string base;                   ///< the base DTB file
    std::vector<std::string> overlays;  ///< overlay files (.dtbo), in order
};

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
    /// `/configurations/default`: a configuration name, a DTB file (as given,
    /// or its base name: the configuration made from it), or a compatible
    /// string (the first configuration listing it). Empty: the first
    /// configuration. One that matches nothing is an error.
    std::string default_configuration;

    std::optional<std::string> kernel_compression;  ///< overrides `compression` for the kernel
    std::optional<std::string> fdt_compression;     ///< overrides `compression` for DTBs and overlays
    std::string ramdisk_compression = "none";       ///< ramdisks are normally compressed already
    /// make_fit.py's -D: a composite DTB whose Kbuild `.<name>.dtb.cmd` runs
    /// fdtoverlay is stored as its base and overlays (see make_kernel_fit()).
    bool decompose_dtbs = false;
    /// Identical bytes are stored once, whatever the file names.
    bool deduplicate = true;
    /// Threads that read and check the DTB list ahead of assembling the
    /// tree (0: one per core). The tree and any error are the same for
    /// every count: results are used, and errors reported, in list order.
    unsigned threads = 1;
    /// `.dtbo` files in the DTB list become fdt images (no configuration of
    /// their own) instead of being skipped.
    bool pack_overlays = false;
    std::vector<configuration_spec> configurations;  ///< after those made from the DTB list
    std::vector<loadable_spec> loadables;            ///< listed by every configuration
    conf_naming naming = conf_naming::sequence;      ///< names of the configurations made from DTBs
    /// `#address-cells`: 1 or 2; 0 picks 2 only when an address needs 64 bits.
    int address_cells = 0;
};

/// What make_kernel_fit() did besides building the tree.
struct kernel_fit_report {
    /// Every file the FIT is made from or that decided its shape, once each,
    /// in the order first met: kernel, ramdisk, DTBs, Kbuild `.cmd` files,
    /// overlays, loadables. (Response files and file lists are the caller's.)
    std::vector<std::string> files_read;
    std::size_t images_deduplicated = 0;   ///< images not stored because their bytes were already
    /// Overlays left compressed because `fdt_compression` asked for a codec
    /// explicitly: U-Boot cannot apply them (see make_kernel_fit()).
    std::vector<std::string> compressed_overlays;
    std::uint64_t bytes_deduplicated = 0;  ///< their total size (before compression)
};

namespace detail {

inline void apply_codec_and_hashes(image& img, const std::string& compression,
                                   const std::vector<std::string>& hashes) {
    visit_codec(compression, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
    for (const auto& h : hashes) visit_hash(h, [&](auto tag) { img.add_hash<typename decltype(tag)::type>(); });
}

// Builds the tree for make_kernel_fit(), one input at a time.
class kernel_fit_assembler {
public:
    kernel_fit_assembler(const kernel_fit_options& options, kernel_fit_report& report)
        : options_(options), report_(report) {
        fit.description = options.name + " with devicetree set";
        fit.timestamp = options.timestamp;
    }

    tree fit;

    void add_kernel(const std::string& path) {
        note_read(path);
        image& k = fit.images.emplace_back("kernel", options_.load ? "kernel" : "kernel_noload", source::file(path));
        k.description = options_.name;
        k.arch = options_.arch;
        k.os = options_.os;
        k.load = options_.load.value_or(0);
        k.entry = options_.entry ? options_.entry : k.load;
        apply_codec_and_hashes(k, options_.kernel_compression.value_or(options_.compression), options_.hashes);
        kernel_ = "kernel";
    }

    void add_ramdisk(const std::string& path) {
        note_read(path);
        image& r = fit.images.emplace_back("ramdisk", "ramdisk", source::file(path));
        r.description = "Ramdisk";
        r.arch = options_.arch;
        r.os = options_.os;
        apply_codec_and_hashes(r, options_.ramdisk_compression, options_.hashes);
        ramdisk_ = "ramdisk";
    }

    // Reads and checks [first, last) on `threads` threads ahead of
    // inspect(). The caller goes through the list in windows, so this
    // holds one window's results.
    void prefetch(const std::string* first, const std::string* last, unsigned threads) {
        read_ahead(first, last, threads, options_.deduplicate, prefetched_);
    }

    // A DTB from the list: one configuration, named later.
    void add_dtb_configuration(const std::string& dtb) {
        dtb_inspection in = inspect(dtb);
        std::vector<std::string> files{dtb};
        if (options_.decompose_dtbs) {
            const std::string cmd = kbuild_cmd_file(dtb);
            const std::string text = read_cmd_file(cmd, dtb);
            note_read(cmd);
            files = decompose_dtb(dtb, cmd, text);
        }
        configuration conf;
        conf.description = in.info.model ? std::move(*in.info.model) : base_name(dtb);
        conf.compatible = std::move(in.info.compatible);
        for (std::size_t i = 0; i < files.size(); ++i)
            conf.fdt.push_back(files[i] == dtb ? fdt_image(files[i], &in) : fdt_image(files[i], nullptr, i > 0));
        add_configuration(std::move(conf), dtb, /*automatic=*/true);
    }

    void add_explicit_configuration(const configuration_spec& spec) {
        if (spec.name.empty()) throw error(errc::invalid_argument, "configuration", "has no name");
        if (spec.base.empty()) throw error(errc::invalid_argument, spec.name, "configuration has no base DTB");
        dtb_inspection in = inspect(spec.base);
        configuration conf;
        conf.name = spec.name;
        conf.description = in.info.model ? std::move(*in.info.model) : base_name(spec.base);
        conf.compatible = std::move(in.info.compatible);
        conf.fdt.push_back(fdt_image(spec.base, &in));
        for (const auto& overlay : spec.overlays) conf.fdt.push_back(fdt_image(overlay, nullptr, /*as_overlay=*/true));
        add_configuration(std::move(conf), spec.base, /*automatic=*/false);
    }

    // Stores a devicetree (DTB or overlay) once; returns its image name.
    // `known`: what inspect() found for `path` when the caller has it (the
    // file is read once); otherwise it is read and checked here.
    // `as_overlay`: a configuration applies it to a base (see
    // store_overlays_uncompressed()); so is every `.dtbo` file.
    std::string fdt_image(const std::string& path, const dtb_inspection* known = nullptr, bool as_overlay = false) {
        const std::size_t index = fdt_image_index(path, known);
        if (as_overlay || has_suffix(path, ".dtbo")) overlays_.push_back(index);
        return fit.images[index].name;
    }

    std::size_t fdt_image_index(const std::string& path, const dtb_inspection* known) {
        if (const auto i = fdt_paths_.find(path); i != fdt_paths_.npos) return i;
        if (const auto i = fdt_dedup_.alias_of(path); i != fdt_dedup_.npos) return i;
        const std::optional<content_key> key = known ? known->key : inspect(path).key;
        if (options_.deduplicate) {
            const std::size_t existing =
                fdt_dedup_.find(*key, path, [this](std::size_t i) -> const std::string& { return fit.images[i].data.name(); });
            if (existing != fdt_dedup_.npos) {
                count_duplicate(path);
                fdt_dedup_.add_alias(path, existing);
                return existing;
            }
        }
        std::string name = "fdt-" + std::to_string(++fdt_count_);
        image& f = fit.images.emplace_back(name, "flat_dt", source::file(path));
        f.description = base_name(path);
        f.arch = options_.arch;
        apply_codec_and_hashes(f, options_.fdt_compression.value_or(options_.compression), options_.hashes);
        const std::size_t index = fit.images.size() - 1;
        fdt_paths_.insert(index);
        if (options_.deduplicate) fdt_dedup_.add(*key, index);
        return index;
    }

    void add_loadable(const loadable_spec& spec) {
        note_read(spec.path);
        const std::string arch = spec.arch.empty() ? options_.arch : spec.arch;
        if (options_.deduplicate && spec.name.empty()) {
            // Only images that would be written identically may be merged.
            const std::string kind = "loadable\n" + spec.type + "\n" + arch + "\n" + spec.os + "\n" +
                                     spec.compression + "\n" + (spec.load ? std::to_string(*spec.load) : "-") +
                                     "\n" + (spec.entry ? std::to_string(*spec.entry) : "-") + "\n" +
                                     spec.description;
            const content_key key = content_key_of_file(spec.path);
            const std::string existing = loadable_dedup_.find(key, spec.path, kind);
            if (!existing.empty()) {
                count_duplicate(spec.path);
                if (std::find(loadables_.begin(), loadables_.end(), existing) == loadables_.end())
                    loadables_.push_back(existing);
                return;
            }
            loadable_dedup_.add(key, kind, spec.path, next_loadable_name());
        }
        const std::string name = spec.name.empty() ? next_loadable_name() : spec.name;
        if (spec.name.empty()) ++loadable_count_;
        image& l = fit.images.emplace_back(name, spec.type, source::file(spec.path));
        l.description = spec.description.empty() ? base_name(spec.path) : spec.description;
        l.arch = arch;
        l.os = spec.os;
        l.load = spec.load;
        l.entry = spec.entry ? spec.entry : spec.load;
        apply_codec_and_hashes(l, spec.compression, options_.hashes);
        loadables_.push_back(name);
    }

    // Room for what `dtbs` and `options` add, so that the image and
    // configuration vectors (hundreds of bytes an element) do not grow by
    // doubling: with 100,000 DTBs that is tens of MiB of slack and copying.
    void reserve(const std::vector<std::string>& dtbs, const kernel_fit_options& options) {
        std::size_t confs = options.configurations.size(), fdts = 0;
        for (const auto& path : dtbs) {
            if (has_suffix(path, ".dtb")) ++confs;
            else if (!options.pack_overlays || !has_suffix(path, ".dtbo")) continue;
            ++fdts;
        }
        for (const auto& spec : options.configurations) fdts += 1 + spec.overlays.size();
        fit.images.reserve(2 + fdts + options.loadables.size());
        fit.configurations.reserve(confs);
        sources_.reserve(confs);
        automatic_.reserve(confs);
        files_seen_.reserve(2 + fdts + options.loadables.size());
        fdt_paths_.reserve(fdts);
        if (options.deduplicate) fdt_dedup_.reserve(fdts);
    }

    // Names the configurations, links kernel/ramdisk/loadables, sets the
    // address cells and the default.
    tree finish() {
        store_overlays_uncompressed();
        const auto source = [this](std::size_t conf) -> const std::string& {
            return report_.files_read[sources_[conf]];
        };
        name_configurations(fit.configurations, automatic_, options_.naming == conf_naming::basename, source);
        for (auto& conf : fit.configurations) {
            conf.kernel = kernel_;
            conf.ramdisk = ramdisk_;
            conf.loadables = loadables_;
        }
        if (options_.address_cells != 0) {
            fit.address_cells = options_.address_cells;
        } else {
            fit.address_cells = 1;
            for (const auto& img : fit.images)
                for (const auto& a : {img.load, img.entry})
                    if (a && *a > max_cell_value) fit.address_cells = 2;
        }
        fit.default_configuration = resolve_default(fit.configurations, options_.default_configuration, source);
        // Many DTBs with the same bytes leave reserved images unused.
        if (fit.images.capacity() - fit.images.size() > fit.images.size() / 4) fit.images.shrink_to_fit();
        return std::move(fit);
    }

private:
    // U-Boot decompresses a configuration's base devicetree but applies
    // each overlay straight from the FIT: boot_get_fdt_fit() loads overlays
    // with FIT_LOAD_IGNORED, for which fit_image_load() skips decompression,
    // so a compressed one fails ("failed on fdt_open_into for DTO:
    // FDT_ERR_BADMAGIC", boot/image-fit.c, v2023.01 to v2026.10). Overlays
    // are therefore stored uncompressed, unless fdt_compression asks for a
    // codec explicitly: then they keep it and the report names them.
    void store_overlays_uncompressed() {
        // Each image once, in tree order (a -D tree lists shared overlays
        // in many configurations).
        std::sort(overlays_.begin(), overlays_.end());
        overlays_.erase(std::unique(overlays_.begin(), overlays_.end()), overlays_.end());
        for (const std::size_t i : overlays_) {
            image& img = fit.images[i];
            if (img.compression() == "none") continue;
            if (options_.fdt_compression)
                report_.compressed_overlays.push_back(img.name);
            else
                img.compress_with<codec::none>();
        }
        std::vector<std::size_t>().swap(overlays_);
    }

    void note_read(const std::string& path) {
        if (files_seen_.find(path) != files_seen_.npos) return;
        report_.files_read.push_back(path);
        files_seen_.insert(report_.files_read.size() - 1);
    }

    // Reads and checks a devicetree (fdt_check_full): its model and
    // compatible, and its content key when deduplicating. Nothing is kept: a
    // file is stored once (fdt_image), and one listed twice is read twice.
    dtb_inspection inspect(const std::string& path) {
        if (const auto it = prefetched_.find(path); it != prefetched_.end()) {
            dtb_inspection out = std::move(it->second);
            prefetched_.erase(it);
            note_read(path);
            return out;
        }
        const std::string bytes = read_dtb_file(path);
        note_read(path);
        return inspect_dtb_bytes(bytes, path, options_.deduplicate);
    }

    // `path` was not stored because an image holds its bytes already.
    void count_duplicate(const std::string& path) {
        ++report_.images_deduplicated;
        const auto fd = open_for_reading(path);
        report_.bytes_deduplicated += file_size(fd.get(), path);
    }

    std::string next_loadable_name() const { return "loadable-" + std::to_string(loadable_count_ + 1); }

    // `source`: the DTB the configuration is made from, read (and so
    // noted in the report) just before.
    void add_configuration(configuration conf, const std::string& source, bool automatic) {
        fit.configurations.push_back(std::move(conf));
        sources_.push_back(files_seen_.find(source));
        automatic_.push_back(automatic);
    }

    struct file_read_at {
        const kernel_fit_report* report;
        const std::string& operator()(std::size_t i) const { return report->files_read[i]; }
    };
    struct image_source_at {
        const tree* fit;
        const std::string& operator()(std::size_t i) const { return fit->images[i].data.name(); }
    };

    // With 100,000 DTBs every per-file table costs MiB: paths are kept once
    // (in the report and the images) and the tables hold indices.
    const kernel_fit_options& options_;
    kernel_fit_report& report_;
    string_index<file_read_at> files_seen_{file_read_at{&report_}};     // report_.files_read
    string_index<image_source_at> fdt_paths_{image_source_at{&fit}};  // fdt images, by file
    fdt_dedup fdt_dedup_;
    loadable_dedup loadable_dedup_;
    std::vector<std::size_t> sources_;  // per configuration: the DTB it was made from, in report_.files_read
    std::unordered_map<std::string, dtb_inspection> prefetched_;  // this window's, read ahead, not yet inspect()ed
    std::vector<bool> automatic_;  // per configuration: named by `naming`
    std::vector<std::size_t> overlays_;  // fdt images applied as overlays (indices; repeats possible)
    std::vector<std::string> loadables_;
    std::string kernel_, ramdisk_;
    int fdt_count_ = 0;
    int loadable_count_ = 0;
};

}  // namespace detail

/// Builds the tree for a kernel, an optional ramdisk and a list of DTBs.
///
/// Only files ending in `.dtb` make configurations, as with make_fit.py;
/// with `options.pack_overlays`, `.dtbo` files become fdt images without a
/// configuration of their own; every other file is passed to `skipped`
/// (when set) and left out. A file listed twice is stored once; with
/// `options.deduplicate` (the default), so is any file whose bytes equal an
/// earlier one's (same size and CRC-32, then compared byte for byte). Images are
/// numbered `fdt-1`, `fdt-2`, ... densely in the order first met.
///
/// With `options.decompose_dtbs` (make_fit.py -D), each DTB's Kbuild
/// command file `.<file name>.cmd` beside it is read: when it runs
/// `scripts/dtc/fdtoverlay`, the files after `-i` (up to the first `;`;
/// paths relative to the current directory) are stored instead, and the
/// configuration's `fdt` lists them, base first; its description and
/// compatible still come from the composite DTB.
///
/// Overlays (`.dtbo` files, and every devicetree a configuration applies
/// to its base) are stored uncompressed whatever `options.compression`
/// says: U-Boot applies overlays without decompressing them. An explicit
/// `options.fdt_compression` still compresses them; report.compressed_overlays
/// then names them.
///
/// Then come `options.configurations` (explicit ones) and the loadables,
/// which every configuration lists. Each devicetree is read and checked
/// with fdt_check_full now (its payload is read again, streaming, when the
/// FIT is written).
///
/// @param kernel path, or empty for a FIT of devicetrees only
/// @param ramdisk path, or empty for none
/// @param report when set, receives the files read and what deduplication saved
/// @throws fitstream::error for an unreadable or invalid DTB (naming it), a
///         missing or unparsable Kbuild command file (naming it), an unknown
///         codec or hash name, a default that matches nothing, a
///         configuration named twice, or nothing to pack (no kernel and no
///         devicetree).
inline tree make_kernel_fit(const kernel_fit_options& options, const std::string& kernel, const std::string& ramdisk,
                            const std::vector<std::string>& dtbs,
                            const std::function<void(const std::string&)>& skipped = {},
                            kernel_fit_report* report = nullptr) {
    if (options.address_cells != 0 && options.address_cells != 1 && options.address_cells != 2)
        throw error(errc::invalid_argument, "#address-cells", "must be 1 or 2");
    kernel_fit_report local;
    kernel_fit_report& r = report ? *report : local;
    r = {};
    detail::kernel_fit_assembler fit(options, r);
    fit.reserve(dtbs, options);
    if (!kernel.empty()) fit.add_kernel(kernel);
    if (!ramdisk.empty()) fit.add_ramdisk(ramdisk);
    const unsigned threads =
        options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    // Windows of the list are read ahead on the threads, so what is held
    // ahead stays bounded with 100,000 DTBs.
    constexpr std::size_t window = 512;
    bool any_dtb = false;
    for (std::size_t begin = 0; begin < dtbs.size(); begin += window) {
        const std::size_t end = std::min(dtbs.size(), begin + window);
        if (threads > 1) {
            std::vector<std::string> devicetrees;
            for (std::size_t i = begin; i < end; ++i)
                if (detail::has_suffix(dtbs[i], ".dtb") ||
                    (options.pack_overlays && detail::has_suffix(dtbs[i], ".dtbo")))
                    devicetrees.push_back(dtbs[i]);
            fit.prefetch(devicetrees.data(), devicetrees.data() + devicetrees.size(), threads);
        }
        for (std::size_t i = begin; i < end; ++i) {
            const std::string& path = dtbs[i];
            if (detail::has_suffix(path, ".dtb")) {
                fit.add_dtb_configuration(path);
                any_dtb = true;
            } else if (options.pack_overlays && detail::has_suffix(path, ".dtbo")) {
                fit.fdt_image(path);
                any_dtb = true;
            } else if (skipped) {
                skipped(path);
            }
        }
    }
    fit.prefetch(nullptr, nullptr, 1);  // nothing read ahead is kept
    for (const auto& spec : options.configurations) {
        fit.add_explicit_configuration(spec);
        any_dtb = true;
    }
    if (kernel.empty() && !any_dtb)
        throw error(errc::invalid_argument, "kernel", "nothing to pack: no kernel and no devicetree");
    for (const auto& spec : options.loadables) fit.add_loadable(spec);
    return fit.finish();
}

}  // namespace fitstream
