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
#include <fitstream/detail/plan/hashed_index.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/plan.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
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
    /// tree (0: one per core), never more than the cores this process may
    /// run on (detail::available_cores()). The tree and any error are the
    /// same for every count: results are used, and errors reported, in list
    /// order.
    unsigned threads = 1;
    /// Fill kernel_fit_report::files_read (every path read, kept in memory:
    /// with a million DTBs, tens of MiB). Off, it stays empty.
    bool report_files_read = true;
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
    /// The files not stored because an image holds their bytes, once each
    /// (kept whether or not files_read is).
    std::vector<std::string> deduplicated_files;
    /// A configuration whose DTB has no root compatible: U-Boot can pick it
    /// only by name or as the default.
    struct without_compatible {
        std::string configuration;  ///< its node name
        std::string dtb;            ///< the file its (base) devicetree image is stored from
        std::string description;    ///< its description (the DTB's model)
    };
    std::vector<without_compatible> configurations_without_compatible;
};

namespace detail {

inline void apply_codec_and_hashes(image& img, const std::string& compression,
                                   const std::vector<std::string>& hashes) {
    visit_codec(compression, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
    for (const auto& h : hashes) visit_hash(h, [&](auto tag) { img.add_hash<typename decltype(tag)::type>(); });
}

// Builds the plan for plan_kernel_fit(), one input at a time. Each image
// and configuration goes into the plan as soon as it is complete, so
// nothing per DTB stays in memory here beyond a few bytes of index: a
// configuration is named when it is added (explicit names are reserved
// first), every configuration's kernel, ramdisk and loadables are known
// before the DTBs (the loadables are read and named first, and added
// after them, in tree order), and the default is resolved as the
// configurations go by.
class kernel_fit_assembler {
public:
    kernel_fit_assembler(const kernel_fit_options& options, kernel_fit_report& report)
        : options_(options), report_(report) {
        plan.description = options.name + " with devicetree set";
        plan.timestamp = options.timestamp;
        // The root comes first in the tree, and so do its errors.
        check_string(plan.description, "/description");
        for (const auto& spec : options.configurations) {
            if (spec.name.empty()) throw error(errc::invalid_argument, "configuration", "has no name");
            if (!explicit_names_.insert(spec.name).second)
                throw error(errc::invalid_argument, "/configurations/" + spec.name, "configuration named twice");
        }
    }

    fit_plan plan;

    void add_kernel(const std::string& path) {
        note_read(path);
        image k("kernel", options_.load ? "kernel" : "kernel_noload", source::file(path));
        k.description = options_.name;
        k.arch = options_.arch;
        k.os = options_.os;
        k.load = options_.load.value_or(0);
        k.entry = options_.entry ? options_.entry : k.load;
        apply_codec_and_hashes(k, options_.kernel_compression.value_or(options_.compression), options_.hashes);
        add_image(k);
        kernel_ = "kernel";
    }

    void add_ramdisk(const std::string& path) {
        note_read(path);
        image r("ramdisk", "ramdisk", source::file(path));
        r.description = "Ramdisk";
        r.arch = options_.arch;
        r.os = options_.os;
        apply_codec_and_hashes(r, options_.ramdisk_compression, options_.hashes);
        add_image(r);
        ramdisk_ = "ramdisk";
    }

    // Reads and checks [first, last) on `threads` threads ahead of
    // inspect(). The caller goes through the list in windows, so this
    // holds one window's results.
    void prefetch(const std::string* first, const std::string* last, unsigned threads) {
        read_ahead(first, last, threads, options_.deduplicate, prefetched_);
    }

    // A DTB from the list: one configuration.
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
        conf.name = automatic_name(dtb);
        add_configuration(std::move(conf), dtb);
    }

    void add_explicit_configuration(const configuration_spec& spec) {
        if (spec.base.empty()) throw error(errc::invalid_argument, spec.name, "configuration has no base DTB");
        dtb_inspection in = inspect(spec.base);
        configuration conf;
        conf.name = spec.name;
        conf.description = in.info.model ? std::move(*in.info.model) : base_name(spec.base);
        conf.compatible = std::move(in.info.compatible);
        conf.fdt.push_back(fdt_image(spec.base, &in));
        for (const auto& overlay : spec.overlays) conf.fdt.push_back(fdt_image(overlay, nullptr, /*as_overlay=*/true));
        add_configuration(std::move(conf), spec.base);
    }

    // Stores a devicetree (DTB or overlay) once; returns its image name.
    // `known`: what inspect() found for `path` when the caller has it (the
    // file is read once); otherwise it is read and checked here.
    // `as_overlay`: a configuration applies it to a base (see
    // store_overlays_uncompressed()); so is every `.dtbo` file.
    std::string fdt_image(const std::string& path, const dtb_inspection* known = nullptr, bool as_overlay = false) {
        const std::size_t index = fdt_image_index(path, known);
        if (as_overlay || has_suffix(path, ".dtbo")) overlays_.push_back(index);
        return std::string(plan.image_name(index));
    }

    std::size_t fdt_image_index(const std::string& path, const dtb_inspection* known) {
        const auto stored_path = [this](std::size_t i) { return plan.image_at(i).data.name(); };
        // A file listed again maps to its image. Deduplicating, it is found
        // by its content like any file with the same bytes (one table, not
        // two: with a million DTBs each is tens of MiB); otherwise by path.
        std::size_t path_hash = 0;
        if (options_.deduplicate) {
            if (const auto i = fdt_dedup_.alias_of(path); i != fdt_dedup_.npos) return i;
        } else {
            path_hash = std::hash<std::string>{}(path);
            if (const auto i = fdt_paths_.find(path_hash, [&](std::size_t i) { return stored_path(i) == path; });
                i != fdt_paths_.npos)
                return i;
        }
        const std::optional<content_key> key = known ? known->key : inspect(path).key;
        if (options_.deduplicate) {
            const std::size_t existing = fdt_dedup_.find(*key, path, stored_path);
            if (existing != fdt_dedup_.npos) {
                if (stored_path(existing) == path) return existing;  // listed again: no duplicate
                count_duplicate(path);
                fdt_dedup_.add_alias(path, existing);
                return existing;
            }
        }
        image f("fdt-" + std::to_string(++fdt_count_), "flat_dt", source::file(path));
        f.description = base_name(path);
        f.arch = options_.arch;
        apply_codec_and_hashes(f, options_.fdt_compression.value_or(options_.compression), options_.hashes);
        const std::size_t index = add_image(f);
        if (options_.deduplicate)
            fdt_dedup_.add(*key, index);
        else
            fdt_paths_.insert(index, path_hash);
        return index;
    }

    // Reads the loadables and names them (their names are in every
    // configuration); add_loadables() adds their images after the DTBs.
    void prepare_loadables() {
        for (const auto& spec : options_.loadables) prepare_loadable(spec);
    }
    void add_loadables() {
        for (auto& [path, img] : pending_loadables_) {
            note_read(path);
            if (img) add_image(*img);
        }
        pending_loadables_.clear();
    }

    // Sets the address cells and the default; stores overlays uncompressed.
    fit_plan finish() {
        store_overlays_uncompressed();
        plan.address_cells = options_.address_cells != 0 ? options_.address_cells : (wide_address_ ? 2 : 1);
        plan.default_configuration = resolve_default();
        return std::move(plan);
    }

private:
    std::size_t add_image(const image& img) {
        for (const auto& a : {img.load, img.entry})
            if (a && *a > max_cell_value) wide_address_ = true;
        return plan.add(img);
    }

    void prepare_loadable(const loadable_spec& spec) {
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
                pending_loadables_.emplace_back(spec.path, std::nullopt);
                return;
            }
            loadable_dedup_.add(key, kind, spec.path, next_loadable_name());
        }
        const std::string name = spec.name.empty() ? next_loadable_name() : spec.name;
        if (spec.name.empty()) ++loadable_count_;
        image l(name, spec.type, source::file(spec.path));
        l.description = spec.description.empty() ? base_name(spec.path) : spec.description;
        l.arch = arch;
        l.os = spec.os;
        l.load = spec.load;
        l.entry = spec.entry ? spec.entry : spec.load;
        apply_codec_and_hashes(l, spec.compression, options_.hashes);
        loadables_.push_back(name);
        pending_loadables_.emplace_back(spec.path, std::move(l));
    }

    // U-Boot decompresses a configuration's base devicetree but applies
    // each overlay straight from the FIT: boot_get_fdt_fit() loads overlays
    // with FIT_LOAD_IGNORED, for which fit_image_load() skips decompression,
    // so a compressed one fails ("failed on fdt_open_into for DTO:
    // FDT_ERR_BADMAGIC", boot/image-fit.c, v2023.01 to v2026.10). Overlays
    // are therefore stored uncompressed, unless fdt_compression asks for a
    // codec explicitly: then they keep it and the report names them.
    void store_overlays_uncompressed() {
        if (overlays_.empty()) return;
        // Each image once, in tree order (a -D tree lists shared overlays
        // in many configurations).
        std::sort(overlays_.begin(), overlays_.end());
        overlays_.erase(std::unique(overlays_.begin(), overlays_.end()), overlays_.end());
        for (const std::size_t i : overlays_) {
            if (fdt_codec() == "none") continue;
            if (options_.fdt_compression)
                report_.compressed_overlays.emplace_back(plan.image_name(i));
            else
                plan.compress_image_with<codec::none>(i);
        }
        std::vector<std::size_t>().swap(overlays_);
    }
    // Every devicetree image has this codec (overlays until stored otherwise).
    const std::string& fdt_codec() const { return options_.fdt_compression ? *options_.fdt_compression : options_.compression; }

    void note_read(const std::string& path) {
        if (!options_.report_files_read) return;
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
        report_.deduplicated_files.push_back(path);
        const auto fd = open_for_reading(path);
        report_.bytes_deduplicated += file_size(fd.get(), path);
    }

    std::string next_loadable_name() const { return "loadable-" + std::to_string(loadable_count_ + 1); }

    // The name of the next configuration made from DTB `source`: its stem
    // (see configuration_stem()), or with `-2`, `-3`, ... when taken by a
    // configuration named before or by an explicit one.
    std::string automatic_name(const std::string& source) {
        const std::string stem =
            configuration_stem(options_.naming == conf_naming::basename, plan.configuration_count(), source);
        std::string name = stem;
        if (name_taken(name)) {
            int& n = next_suffix_.try_emplace(stem, 2).first->second;
            do name = stem + "-" + std::to_string(n++);
            while (name_taken(name));
        }
        return name;
    }
    bool name_taken(const std::string& name) const {
        return plan.find_configuration(name) != fit_plan::npos || explicit_names_.count(name) != 0;
    }

    // `source`: the DTB the configuration is made from. The candidates for
    // the default are noted as configurations go by (see resolve_default()).
    void add_configuration(configuration conf, const std::string& source) {
        conf.kernel = kernel_;
        conf.ramdisk = ramdisk_;
        conf.loadables = loadables_;
        const std::string& want = options_.default_configuration;
        if (!want.empty()) {
            const std::size_t index = plan.configuration_count();
            if (default_by_source_ == fit_plan::npos && source == want) default_by_source_ = index;
            if (default_by_base_name_ == fit_plan::npos && base_name(source) == want) default_by_base_name_ = index;
            if (default_by_compatible_ == fit_plan::npos &&
                std::find(conf.compatible.begin(), conf.compatible.end(), want) != conf.compatible.end())
                default_by_compatible_ = index;
        }
        if (conf.compatible.empty() && !conf.fdt.empty())
            report_.configurations_without_compatible.push_back(
                {conf.name, plan.image_at(plan.find_image(conf.fdt.front())).data.name(), conf.description});
        plan.add(conf);
    }

    // The configuration `default_configuration` names: by name, by the DTB
    // file it was made from (as given, then by base name), then by
    // compatible string; empty: the first configuration.
    std::string resolve_default() const {
        const std::string& want = options_.default_configuration;
        if (want.empty()) return plan.configuration_count() ? std::string(plan.configuration_name(0)) : std::string();
        if (plan.find_configuration(want) != fit_plan::npos) return want;
        for (const std::size_t i : {default_by_source_, default_by_base_name_, default_by_compatible_})
            if (i != fit_plan::npos) return std::string(plan.configuration_name(i));
        throw error(errc::invalid_argument, "default configuration",
                    "'" + want + "' is neither a configuration, a DTB it was made from, nor a compatible string of one");
    }

    struct file_read_at {
        const kernel_fit_report* report;
        const std::string& operator()(std::size_t i) const { return report->files_read[i]; }
    };

    const kernel_fit_options& options_;
    kernel_fit_report& report_;
    string_index<file_read_at> files_seen_{file_read_at{&report_}};  // report_.files_read
    hashed_index fdt_paths_;  // not deduplicating: fdt images, by file (confirmed against the plan)
    fdt_dedup fdt_dedup_;
    loadable_dedup loadable_dedup_;
    std::unordered_map<std::string, dtb_inspection> prefetched_;  // this window's, read ahead, not yet inspect()ed
    std::vector<std::size_t> overlays_;  // fdt images applied as overlays (indices; repeats possible)
    std::set<std::string> explicit_names_;
    std::unordered_map<std::string, int> next_suffix_;  // per stem that clashed: the suffix to try next
    std::size_t default_by_source_ = fit_plan::npos;
    std::size_t default_by_base_name_ = fit_plan::npos;
    std::size_t default_by_compatible_ = fit_plan::npos;
    std::vector<std::string> loadables_;
    std::vector<std::pair<std::string, std::optional<image>>> pending_loadables_;  // path, image (none: a duplicate)
    std::string kernel_, ramdisk_;
    int fdt_count_ = 0;
    int loadable_count_ = 0;
    bool wide_address_ = false;
};

}  // namespace detail

/// Plans the FIT for a kernel, an optional ramdisk and a list of DTBs,
/// read one path at a time from `next_dtb` (false: the list is done), as a
/// fit_plan: with a million DTBs it stays tens of MiB (see plan.hpp), and
/// write_fit() streams it.
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
inline fit_plan plan_kernel_fit(const kernel_fit_options& options, const std::string& kernel,
                                const std::string& ramdisk, const std::function<bool(std::string&)>& next_dtb,
                                const std::function<void(const std::string&)>& skipped = {},
                                kernel_fit_report* report = nullptr) {
    if (options.address_cells != 0 && options.address_cells != 1 && options.address_cells != 2)
        throw error(errc::invalid_argument, "#address-cells", "must be 1 or 2");
    kernel_fit_report local;
    kernel_fit_report& r = report ? *report : local;
    r = {};
    detail::kernel_fit_assembler fit(options, r);
    if (!kernel.empty()) fit.add_kernel(kernel);
    if (!ramdisk.empty()) fit.add_ramdisk(ramdisk);
    fit.prepare_loadables();
    const unsigned threads = detail::read_ahead_threads(options.threads);
    // Windows of the list are read ahead on the threads, so what is held
    // ahead stays bounded with a million DTBs.
    constexpr std::size_t window = 512;
    bool any_dtb = false;
    std::vector<std::string> paths, devicetrees;
    for (bool more = true; more;) {
        paths.clear();
        for (std::string path; paths.size() < window && (more = next_dtb(path));) paths.push_back(std::move(path));
        if (threads > 1) {
            devicetrees.clear();
            for (const auto& path : paths)
                if (detail::has_suffix(path, ".dtb") || (options.pack_overlays && detail::has_suffix(path, ".dtbo")))
                    devicetrees.push_back(path);
            fit.prefetch(devicetrees.data(), devicetrees.data() + devicetrees.size(), threads);
        }
        for (const auto& path : paths) {
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
    fit.add_loadables();
    return fit.finish();
}

/// plan_kernel_fit() over a list of DTBs held in memory.
inline fit_plan plan_kernel_fit(const kernel_fit_options& options, const std::string& kernel,
                                const std::string& ramdisk, const std::vector<std::string>& dtbs,
                                const std::function<void(const std::string&)>& skipped = {},
                                kernel_fit_report* report = nullptr) {
    std::size_t next = 0;
    return plan_kernel_fit(
        options, kernel, ramdisk,
        [&](std::string& path) {
            if (next == dtbs.size()) return false;
            path = dtbs[next++];
            return true;
        },
        skipped, report);
}

/// The same FIT as plan_kernel_fit(), as a tree (every image and
/// configuration in memory: for a few thousand DTBs, or to change it
/// before writing).
inline tree make_kernel_fit(const kernel_fit_options& options, const std::string& kernel, const std::string& ramdisk,
                            const std::vector<std::string>& dtbs,
                            const std::function<void(const std::string&)>& skipped = {},
                            kernel_fit_report* report = nullptr) {
    return plan_kernel_fit(options, kernel, ramdisk, dtbs, skipped, report).to_tree();
}

}  // namespace fitstream
