// SPDX-License-Identifier: MIT
#pragma once

// fitpack's packing command line: make_fit.py's options and fitpack's
// own, each checked by CLI11 as it is parsed, then turned into the
// library's kernel_fit_options and write_options.

#include "exit_status.hpp"
#include "signing_options.hpp"
#include "validators.hpp"
#include "version_info.hpp"

#include <fitstream/fitstream.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fitpack {

struct pack_arguments {
    std::string arch;
    std::string compression = "none";
    bool external = false;
    std::string name;
    std::string output;
    std::string os;
    std::string kernel;
    std::string ramdisk;
    bool verbose = false;
    std::vector<std::string> dtbs;
    std::vector<std::string> files_from;
    std::vector<std::string> hashes{"sha256"};
    std::optional<std::uint64_t> align;
    std::optional<std::uint64_t> position;
    std::string default_configuration;
    std::string timestamp;  // read only when SOURCE_DATE_EPOCH is not set
    std::optional<std::uint64_t> load;
    std::optional<std::uint64_t> entry;
    // Beyond make_fit.py.
    bool decompose_dtbs = false;
    bool no_dedup = false;
    bool overlays = false;
    bool no_kernel = false;
    std::vector<std::string> configs;
    std::vector<std::string> loadables;
    std::string compress_kernel;
    std::string compress_fdt;
    std::string compress_ramdisk;
    std::string address_cells = "1";
    std::string conf_names = "sequence";
    std::string depfile;
    std::optional<unsigned> jobs;
    std::string memory_budget;  // --memory-budget, as written (checked by memory_size())
    bool no_fsync = false;
    signing_arguments signing;
};

inline void add_pack_options(CLI::App& app, pack_arguments& a) {
    // A repeated option keeps its last value, as make_fit.py's argparse does:
    // FIT_EXTRA_ARGS or a response file may override an earlier one.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.description(
        "Pack a kernel, an optional ramdisk and devicetree blobs into a U-Boot FIT.\n"
        "Accepts scripts/make_fit.py's command line; @FILE reads further arguments from FILE, one a line,\n"
        "  verbatim, as make_fit.py does (nested at most 64 deep; at most 10,000 files, 64 MiB and\n"
        "  1,000,000 arguments in all, 128 KiB in one).\n"
        "Read modes: fitpack list FIT [--json] | fitpack verify FIT | fitpack extract FIT IMAGE -o FILE [--raw]\n"
        "From an image tree source: fitpack -f IMAGE.its [-E] [-B HEX] [-p HEX] [-k KEYDIR] [-K DTB] [-r] -o FIT\n"
        "  (fitpack -f --help lists its options); fitpack mkimage ARGS takes mkimage's FIT command line unchanged");
    app.set_version_flag("--version", fitpack::version_text());
    app.add_option("-A,--arch", a.arch, "FIT architecture, e.g. arm64")->required();
    app.add_option("-c,--compress", a.compression,
                   "Compression for the kernel and DTBs: " + fitstream::codec_names())
        ->check(codec_name("--compress"))
        ->capture_default_str();
    app.add_flag("-E,--external", a.external, "Place image data after the FIT structure (as mkimage -E)");
    app.add_option("-n,--name", a.name, "Name of the kernel, e.g. 'Linux-6.12'")->required();
    app.add_option("-o,--output", a.output, "Output FIT file, or - for standard output")->required();
    app.add_option("-O,--os", a.os, "FIT operating system, e.g. linux")->required();
    auto* kernel = app.add_option("-k,--kernel", a.kernel, "Kernel image file (required unless --no-kernel)");
    app.add_flag("--no-kernel", a.no_kernel, "A FIT of devicetrees only: configurations have no kernel")
        ->excludes(kernel);
    app.add_option("-r,--ramdisk", a.ramdisk, "Ramdisk (initrd) file, stored uncompressed");
    app.add_flag("-v,--verbose", a.verbose,
                 "Report each image packed (name, file, input -> stored bytes, codec) and the totals on "
                 "standard error. On a terminal, long runs also show a progress line there (bytes, rate, time "
                 "left), with or without -v");
    app.add_option("--files-from", a.files_from, "Read further DTB paths from FILE, one per line ('-': stdin)");
    add_list_option(app, "--hash", a.hashes,
                    "Hash algorithms for every image, comma-separated (" + fitstream::hash_names() + "), or none",
                    hash_name("--hash"))
        ->default_str("sha256");
    app.add_option("-B,--align", a.align, "Align external data to this many bytes, a power of two from 4 to 0x40000000 (1 GiB) "
                   "(implies -E), e.g. 0x1000")
        ->check(CLI::Validator(
            [](std::string& text) {
                const auto value = parse_unsigned(text);
                if (!value)
                    throw fitstream::error(fitstream::errc::invalid_argument, "-B/--align",
                                           "'" + text + "' is not a number");
                check_alignment_limit(*value, "-B/--align");
                return std::string();
            },
            "", "alignment"));
    app.add_option("-p,--position", a.position,
                   "Place external data at this absolute file offset, with data-position (implies -E)")
        ->check(unsigned_number("--position"));
    app.add_option("--default", a.default_configuration,
                   "Default configuration: a configuration name, a DTB file, or a compatible string "
                   "(default: the first configuration)");
    // Checked only when it is used (kernel_fit_options_of): SOURCE_DATE_EPOCH overrides it.
    app.add_option("--timestamp", a.timestamp,
                   "FIT timestamp in seconds since 1970, when SOURCE_DATE_EPOCH is not set (default: now)");
    auto* load = app.add_option("--load", a.load,
                                "Load the kernel at ADDR: type 'kernel' instead of 'kernel_noload', which U-Boot "
                                "before 2024 cannot decompress")
                     ->check(unsigned_number("--load"));
    app.add_option("--entry", a.entry, "Kernel entry point (default: the load address)")
        ->check(unsigned_number("--entry"))
        ->needs(load);
    app.add_flag("-D,--decompose-dtbs", a.decompose_dtbs,
                 "Store a composite DTB as its base and overlays, read from the Kbuild .<name>.dtb.cmd "
                 "file beside it (as make_fit.py -D)");
    app.add_flag("--no-dedup", a.no_dedup,
                 "Store each file named even when its bytes equal another's (default: identical payloads "
                 "stored once)");
    app.add_flag("--overlays", a.overlays, "Pack .dtbo files as fdt images too (no configuration of their own)");
    app.add_option("--config", a.configs,
                   "NAME:BASE.dtb[,OVERLAY.dtbo...]: a configuration of a base DTB and overlays (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--compress-kernel", a.compress_kernel, "Compression for the kernel (default: --compress)")
        ->check(codec_name("--compress-kernel"));
    app.add_option("--compress-fdt", a.compress_fdt, "Compression for DTBs (default: --compress) and overlays (default: none, as U-Boot applies overlays without decompressing them; naming a codec here compresses them too, with a warning)")
        ->check(codec_name("--compress-fdt"));
    app.add_option("--compress-ramdisk", a.compress_ramdisk, "Compression for the ramdisk (default: none)")
        ->check(codec_name("--compress-ramdisk"));
    app.add_option("--loadable", a.loadables,
                   "FILE[:key=value,...] with keys type (default firmware), arch, os, load, entry, compression, "
                   "name, description: an image every configuration lists in loadables (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--address-cells", a.address_cells,
                   "#address-cells for load/entry: 1 (as make_fit.py), 2, or auto (2 only when an address "
                   "needs 64 bits)")
        ->check(CLI::IsMember({"1", "2", "auto"}))
        ->capture_default_str();
    app.add_option("--conf-names", a.conf_names,
                   "How configurations are named: sequence (conf-N) or basename (conf-<dtb file name>, e.g. "
                   "conf-board.dtb, as Yocto names them)")
        ->check(CLI::IsMember({"sequence", "basename"}))
        ->capture_default_str();
    app.add_option("--depfile", a.depfile,
                   "Write a Make/Ninja dependency file listing every input read, once the FIT is written");
    app.add_flag("--no-fsync", a.no_fsync,
                 "Do not wait for the FIT and the depfile to reach the disk before exiting (faster; a power "
                 "loss soon after may then leave an empty or partial file)");
    app.add_option("-j,--jobs", a.jobs,
                   "Compress and hash on N threads while the FIT is written in one pass (default: one per "
                   "core, here " + std::to_string(std::max(1u, std::thread::hardware_concurrency())) +
                       "). The output is the same for every N. No more threads compute at once than there are "
                       "cores, a large zstd image's workers included. Work ahead of the image being written holds "
                       "at most --memory-budget of buffered data and codec state (default: " +
                       std::to_string(fitstream::default_memory_budget >> 20) +
                       " MiB of buffered data, and the codec state the threads' encoders need)")
        ->check(thread_count(4096));
    app.add_option("--memory-budget", a.memory_budget,
                   "Hold at most SIZE bytes (K, M or G suffix) of buffered data and codec state at once: an lzma "
                   "encoder holds up to 93 MiB at the default level (about 21 MiB for a small DTB), so a small SIZE "
                   "compresses lzma images one at a time. One image always runs, whatever SIZE. Default: " +
                       std::to_string(fitstream::default_memory_budget >> 20) +
                       " MiB of buffered data, and the codec state the threads' encoders need (lzma with -j 2: "
                       "about 150 MiB)")
        ->check(memory_size("--memory-budget"));
    app.add_option("dtbs", a.dtbs, "Devicetree blobs; only .dtb files make configurations");
    add_signing_options(app, a.signing);
}

/// What CLI11 cannot say: how options combine.
inline void check_combinations(const pack_arguments& a) {
    if (a.kernel.empty() && !a.no_kernel)
        throw usage_error("--kernel is required (or --no-kernel for a FIT of devicetrees only)");
    if (!a.depfile.empty() && a.output == "-")
        throw usage_error("--depfile needs an output file: a depfile cannot name standard output");
}

/// `--config NAME:BASE.dtb[,OVERLAY.dtbo...]`.
inline fitstream::configuration_spec parse_config(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        throw usage_error("--config " + text + ": expected NAME:BASE.dtb[,OVERLAY.dtbo...]");
    fitstream::configuration_spec spec;
    spec.name = text.substr(0, colon);
    const auto files = split_commas(text.substr(colon + 1));
    if (files.empty()) throw usage_error("--config " + text + ": no base DTB");
    spec.base = files.front();
    spec.overlays.assign(files.begin() + 1, files.end());
    return spec;
}

/// `--loadable FILE[:key=value,...]`. The options start at the last ':'
/// when what follows it has an '=' (a file name may hold ':').
inline fitstream::loadable_spec parse_loadable(const std::string& text) {
    fitstream::loadable_spec spec;
    const auto colon = text.rfind(':');
    std::string keys;
    if (colon != std::string::npos && text.find('=', colon) != std::string::npos) {
        spec.path = text.substr(0, colon);
        keys = text.substr(colon + 1);
    } else {
        spec.path = text;
    }
    if (spec.path.empty()) throw usage_error("--loadable " + text + ": no file");
    const auto number = [&](const std::string& value, const std::string& key) {
        const auto n = parse_unsigned(value);
        if (!n)
            throw fitstream::error(fitstream::errc::invalid_argument, "--loadable " + text + ": " + key,
                                   "'" + value + "' is not a number");
        return *n;
    };
    for (const auto& item : split_commas(keys)) {
        const auto eq = item.find('=');
        const std::string key = item.substr(0, eq);
        const std::string value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
        if (eq == std::string::npos || value.empty())
            throw usage_error("--loadable " + text + ": '" + item + "' is not key=value");
        if (key == "type") spec.type = value;
        else if (key == "arch") spec.arch = value;
        else if (key == "os") spec.os = value;
        else if (key == "name") spec.name = value;
        else if (key == "description") spec.description = value;
        else if (key == "load") spec.load = number(value, "load");
        else if (key == "entry") spec.entry = number(value, "entry");
        else if (key == "compression" || key == "compress") {
            check_codec(value, "--loadable " + text);
            spec.compression = value;
        } else
            throw usage_error("--loadable " + text + ": unknown key '" + key +
                              "' (valid: type, arch, os, load, entry, compression, name, description)");
    }
    return spec;
}

/// The library's options for what `a` asks. The timestamp is
/// SOURCE_DATE_EPOCH when set, else --timestamp, else now.
inline fitstream::kernel_fit_options kernel_fit_options_of(const pack_arguments& a) {
    fitstream::kernel_fit_options options;
    options.name = a.name;
    options.arch = a.arch;
    options.os = a.os;
    options.compression = a.compression;
    if (!a.compress_kernel.empty()) options.kernel_compression = a.compress_kernel;
    if (!a.compress_fdt.empty()) options.fdt_compression = a.compress_fdt;
    if (!a.compress_ramdisk.empty()) options.ramdisk_compression = a.compress_ramdisk;
    options.decompose_dtbs = a.decompose_dtbs;
    options.deduplicate = !a.no_dedup;
    options.pack_overlays = a.overlays;
    for (const auto& c : a.configs) options.configurations.push_back(parse_config(c));
    for (const auto& l : a.loadables) options.loadables.push_back(parse_loadable(l));
    options.naming = a.conf_names == "basename" ? fitstream::conf_naming::basename : fitstream::conf_naming::sequence;
    options.address_cells = a.address_cells == "auto" ? 0 : a.address_cells == "2" ? 2 : 1;
    options.hashes.clear();
    for (const auto& h : a.hashes)
        if (!h.empty()) options.hashes.push_back(h);
    if (options.hashes.empty()) throw usage_error("--hash needs an algorithm name or 'none'");
    if (options.hashes == std::vector<std::string>{"none"}) {
        options.hashes.clear();
    } else if (std::find(options.hashes.begin(), options.hashes.end(), "none") != options.hashes.end()) {
        throw fitstream::error(fitstream::errc::unsupported, "--hash", "'none' cannot be combined with a hash algorithm");
    }
    options.load = a.load;
    options.entry = a.entry;
    options.default_configuration = a.default_configuration;
    options.timestamp = fitstream::source_date_epoch();
    if (!options.timestamp) {
        std::uint64_t now = static_cast<std::uint64_t>(std::time(nullptr));
        if (!a.timestamp.empty()) {
            const auto given = parse_unsigned(a.timestamp);
            if (!given)
                throw fitstream::error(fitstream::errc::invalid_argument, "--timestamp",
                                       "'" + a.timestamp + "' is not a number");
            now = *given;
        }
        if (now > fitstream::max_cell_value)
            throw fitstream::error(fitstream::errc::invalid_argument, "--timestamp", "does not fit 32 bits");
        options.timestamp = static_cast<std::uint32_t>(now);
    }
    return options;
}

/// The writer's options for what `a` asks. Layout values are checked here,
/// where the option that set them is known.
inline fitstream::write_options write_options_of(const pack_arguments& a) {
    fitstream::write_options write;
    if (a.jobs) write.threads = *a.jobs;
    if (!a.memory_budget.empty()) write.memory_budget = static_cast<std::size_t>(*parse_size(a.memory_budget));
    if (a.external || a.align || a.position) write.layout.layout = fitstream::data_layout::external;
    if (a.align) {
        check_alignment(*a.align, "-B/--align");
        write.layout.align = static_cast<std::uint32_t>(*a.align);
    }
    if (a.position) {
        check_data_position(*a.position, "-p/--position");
        write.layout.position = *a.position;
    }
    return write;
}

/// Throws, naming the image and the option that fixes it, when a load or
/// entry address of `fit` needs 64 bits but the tree has one address cell.
inline void check_addresses(const fitstream::fit_plan& plan) {
    if (plan.address_cells == 1 && !plan.wide_address_image().empty())
        throw fitstream::error(fitstream::errc::invalid_argument, plan.wide_address_image(),
                               "load/entry address needs 64 bits: use two address cells "
                               "(--address-cells 2 or auto)");
}

}  // namespace fitpack
