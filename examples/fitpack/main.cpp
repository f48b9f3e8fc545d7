// SPDX-License-Identifier: MIT
//
// fitpack: packs a kernel, an optional ramdisk and many devicetree blobs
// into a U-Boot FIT. It takes Linux's scripts/make_fit.py command line
// unchanged, so Kbuild can run it as MAKE_FIT, and adds what make_fit.py
// lacks: hashes, a default configuration, external data in one pass,
// alignment, reproducible timestamps, streaming to standard output.

#include "progress.hpp"
#include "read_modes.hpp"
#include "response_files.hpp"
#include "signing_options.hpp"

#include <fitstream/fitstream.hpp>

#include <CLI/CLI.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>  // malloc_trim
#endif

namespace {

enum exit_code { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

struct arguments {
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
    std::string hashes = "sha256";
    std::string align;
    std::string position;
    std::string default_configuration;
    std::string timestamp;
    std::string load;
    std::string entry;
    // Beyond make_fit.py (issue 5).
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
    // Performance (issue 4).
    std::string jobs;
    fitpack::signing_arguments signing;  // issue 7: see signing_options.hpp
};

/// Parses a C-style unsigned number (decimal, 0x hex, 0 octal) for `option`.
std::uint64_t parse_number(const std::string& text, const std::string& option) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (text.empty() || text[0] == '-' || *end != '\0' || errno == ERANGE)
        throw fitstream::error(fitstream::errc::invalid_argument, option, "'" + text + "' is not a number");
    return value;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::string current;
    for (const char c : text + ",") {
        if (c == ',') {
            if (!current.empty()) items.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    return items;
}

/// Reads `--files-from` lists: one path per line, '-' for standard input.
void read_file_list(const std::string& list, std::vector<std::string>& out) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (list != "-") {
        file.open(list);
        if (!file) fitstream::detail::throw_os_error(errno ? errno : ENOENT, list, "cannot read file list");
        in = &file;
    }
    for (std::string line; std::getline(*in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) out.push_back(line);
    }
    if (in->bad()) fitstream::detail::throw_os_error(EIO, list, "cannot read file list");
}

std::string megabytes(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

/// A command line that parses but does not make sense; exits 2 like a parse error.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string checked_codec(const std::string& name, const std::string& option) {
    if (!fitstream::is_codec_name(name))
        throw fitstream::error(fitstream::errc::unsupported, option,
                               "unknown compression '" + name + "' (valid: " + fitstream::codec_names() + ")");
    return name;
}

/// `--config NAME:BASE.dtb[,OVERLAY.dtbo...]`.
fitstream::configuration_spec parse_config(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        throw usage_error("--config " + text + ": expected NAME:BASE.dtb[,OVERLAY.dtbo...]");
    fitstream::configuration_spec spec;
    spec.name = text.substr(0, colon);
    const auto files = split_list(text.substr(colon + 1));
    if (files.empty()) throw usage_error("--config " + text + ": no base DTB");
    spec.base = files.front();
    spec.overlays.assign(files.begin() + 1, files.end());
    return spec;
}

/// `--loadable FILE[:key=value,...]`. The options start at the last ':'
/// when what follows it has an '=' (a file name may hold ':').
fitstream::loadable_spec parse_loadable(const std::string& text) {
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
    for (const auto& item : split_list(keys)) {
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
        else if (key == "load") spec.load = parse_number(value, "--loadable " + text + ": load");
        else if (key == "entry") spec.entry = parse_number(value, "--loadable " + text + ": entry");
        else if (key == "compression" || key == "compress") spec.compression = checked_codec(value, "--loadable " + text);
        else
            throw usage_error("--loadable " + text + ": unknown key '" + key +
                              "' (valid: type, arch, os, load, entry, compression, name, description)");
    }
    return spec;
}

void build_cli(CLI::App& app, arguments& a) {
    // A repeated option keeps its last value, as make_fit.py's argparse does:
    // FIT_EXTRA_ARGS or a response file may override an earlier one.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.description(
        "Pack a kernel, an optional ramdisk and devicetree blobs into a U-Boot FIT.\n"
        "Accepts scripts/make_fit.py's command line; @FILE reads further arguments from FILE.\n"
        "Read modes: fitpack list FIT [--json] | fitpack verify FIT | fitpack extract FIT IMAGE -o FILE [--raw]");
    app.set_version_flag("--version", std::string("fitpack ") + fitstream::version_string());
    app.add_option("-A,--arch", a.arch, "FIT architecture, e.g. arm64")->required();
    app.add_option("-c,--compress", a.compression,
                   "Compression for the kernel and DTBs: " + fitstream::codec_names())
        ->capture_default_str();
    app.add_flag("-E,--external", a.external, "Place image data after the FIT structure (as mkimage -E)");
    app.add_option("-n,--name", a.name, "Name of the kernel, e.g. 'Linux-6.12'")->required();
    app.add_option("-o,--output", a.output, "Output FIT file, or - for standard output")->required();
    app.add_option("-O,--os", a.os, "FIT operating system, e.g. linux")->required();
    app.add_option("-k,--kernel", a.kernel, "Kernel image file (required unless --no-kernel)");
    app.add_flag("--no-kernel", a.no_kernel, "A FIT of devicetrees only: configurations have no kernel")
        ->excludes("--kernel");
    app.add_option("-r,--ramdisk", a.ramdisk, "Ramdisk (initrd) file, stored uncompressed");
    app.add_flag("-v,--verbose", a.verbose,
                 "Report each image packed (name, file, input -> stored bytes, codec) and the totals on "
                 "standard error. On a terminal, long runs also show a progress line there (bytes, rate, time "
                 "left), with or without -v");
    app.add_option("--files-from", a.files_from, "Read further DTB paths from FILE, one per line ('-': stdin)");
    app.add_option("--hash", a.hashes,
                   "Hash algorithms for every image, comma-separated (" + fitstream::hash_names() +
                       "), or none")
        ->capture_default_str();
    app.add_option("-B,--align", a.align, "Align external data to this many bytes (implies -E), e.g. 0x1000");
    app.add_option("-p,--position", a.position,
                   "Place external data at this absolute file offset, with data-position (implies -E)");
    app.add_option("--default", a.default_configuration,
                   "Default configuration: a configuration name, a DTB file, or a compatible string "
                   "(default: the first configuration)");
    app.add_option("--timestamp", a.timestamp,
                   "FIT timestamp in seconds since 1970, when SOURCE_DATE_EPOCH is not set (default: now)");
    app.add_option("--load", a.load,
                   "Load the kernel at ADDR: type 'kernel' instead of 'kernel_noload', which U-Boot "
                   "before 2024 cannot decompress");
    app.add_option("--entry", a.entry, "Kernel entry point (default: the load address)");
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
    app.add_option("--compress-kernel", a.compress_kernel, "Compression for the kernel (default: --compress)");
    app.add_option("--compress-fdt", a.compress_fdt, "Compression for DTBs and overlays (default: --compress)");
    app.add_option("--compress-ramdisk", a.compress_ramdisk, "Compression for the ramdisk (default: none)");
    app.add_option("--loadable", a.loadables,
                   "FILE[:key=value,...] with keys type (default firmware), arch, os, load, entry, compression, "
                   "name, description: an image every configuration lists in loadables (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--address-cells", a.address_cells,
                   "#address-cells for load/entry: 1 (as make_fit.py), 2, or auto (2 only when an address "
                   "needs 64 bits)")
        ->capture_default_str();
    app.add_option("--conf-names", a.conf_names,
                   "How configurations are named: sequence (conf-N) or basename (conf-<dtb name>)")
        ->capture_default_str();
    app.add_option("--depfile", a.depfile,
                   "Write a Make/Ninja dependency file listing every input read, once the FIT is written");
    app.add_option("-j,--jobs", a.jobs,
                   "Compress and hash on N threads while the FIT is written in one pass (default: one per "
                   "core, here " + std::to_string(std::max(1u, std::thread::hardware_concurrency())) +
                       "). The output is the same for every N. Work ahead of the image being written holds "
                       "at most " + std::to_string(fitstream::default_memory_budget >> 20) +
                       " MiB of buffered data; each thread adds one input buffer and its codec's state");
    app.add_option("dtbs", a.dtbs, "Devicetree blobs; only .dtb files make configurations");
    fitpack::add_signing_options(app, a.signing);  // issue 7
}

/// Writes the FIT to a file (atomically) or, for "-", to standard output.
void write_fit_to(const std::string& output, const fitstream::tree& fit, const fitstream::write_options& options,
                  fitstream::write_result& result) {
    if (output != "-") {
        result = fitstream::write_fit(fit, output, options);
        return;
    }
    if (::isatty(STDOUT_FILENO))
        throw fitstream::error(fitstream::errc::invalid_argument, "standard output",
                               "refusing to write a binary FIT to a terminal");
    fitstream::fd_sink out(STDOUT_FILENO, "standard output");
    result = fitstream::write_fit(fit, out, options);
}

int run(const std::vector<std::string>& raw_args) {
    if (fitpack::is_read_verb(raw_args)) return fitpack::run_read_mode(raw_args);
    arguments a;
    CLI::App app{"", "fitpack"};
    build_cli(app, a);
    std::vector<std::string> inputs_read;  // for --depfile, in the order read
    try {
        std::vector<std::string> args = fitpack::expand_response_files(raw_args, &inputs_read);
        std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last-first
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return exit_ok;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << '\n';
        return exit_ok;
    } catch (const CLI::ParseError& e) {
        std::cerr << "fitpack: error: " << e.what() << "\nRun 'fitpack --help' for the options.\n";
        return exit_usage;
    }

    if (a.kernel.empty() && !a.no_kernel)
        throw usage_error("--kernel is required (or --no-kernel for a FIT of devicetrees only)");
    if (!a.depfile.empty() && a.output == "-")
        throw usage_error("--depfile needs an output file: a depfile cannot name standard output");

    for (const auto& list : a.files_from) {
        read_file_list(list, a.dtbs);
        if (list != "-") inputs_read.push_back(list);
    }

    fitstream::kernel_fit_options options;
    options.name = a.name;
    options.arch = a.arch;
    options.os = a.os;
    options.compression = checked_codec(a.compression, "--compress");
    if (!a.compress_kernel.empty()) options.kernel_compression = checked_codec(a.compress_kernel, "--compress-kernel");
    if (!a.compress_fdt.empty()) options.fdt_compression = checked_codec(a.compress_fdt, "--compress-fdt");
    if (!a.compress_ramdisk.empty()) options.ramdisk_compression = checked_codec(a.compress_ramdisk, "--compress-ramdisk");
    options.decompose_dtbs = a.decompose_dtbs;
    options.deduplicate = !a.no_dedup;
    options.pack_overlays = a.overlays;
    for (const auto& c : a.configs) options.configurations.push_back(parse_config(c));
    for (const auto& l : a.loadables) options.loadables.push_back(parse_loadable(l));
    if (a.conf_names == "basename") {
        options.naming = fitstream::conf_naming::basename;
    } else if (a.conf_names != "sequence") {
        throw usage_error("--conf-names must be 'sequence' or 'basename', not '" + a.conf_names + "'");
    }
    if (a.address_cells == "auto") {
        options.address_cells = 0;
    } else if (a.address_cells == "1" || a.address_cells == "2") {
        options.address_cells = a.address_cells == "1" ? 1 : 2;
    } else {
        throw usage_error("--address-cells must be 1, 2 or auto, not '" + a.address_cells + "'");
    }
    options.hashes = a.hashes == "none" ? std::vector<std::string>{} : split_list(a.hashes);
    if (a.hashes != "none" && options.hashes.empty()) throw usage_error("--hash needs an algorithm name or 'none'");
    for (const auto& h : options.hashes) {
        try {
            fitstream::visit_hash(h, [](auto) {});
        } catch (const fitstream::error& e) {
            throw fitstream::error(e.code(), "--hash", "'" + h + "': " + e.reason());
        }
    }
    if (!a.load.empty()) options.load = parse_number(a.load, "--load");
    if (!a.entry.empty()) {
        if (!options.load) throw usage_error("--entry needs --load");
        options.entry = parse_number(a.entry, "--entry");
    }
    options.default_configuration = a.default_configuration;
    options.timestamp = fitstream::source_date_epoch();
    if (!options.timestamp) {
        const std::uint64_t now =
            a.timestamp.empty() ? static_cast<std::uint64_t>(std::time(nullptr)) : parse_number(a.timestamp, "--timestamp");
        if (now > 0xFFFFFFFFull)
            throw fitstream::error(fitstream::errc::invalid_argument, "--timestamp", "does not fit 32 bits");
        options.timestamp = static_cast<std::uint32_t>(now);
    }

    fitstream::write_options write;
    if (app.count("--jobs") > 0) {
        std::uint64_t jobs = 0;
        try {
            jobs = parse_number(a.jobs, "-j/--jobs");
        } catch (const fitstream::error&) {
        }
        if (jobs < 1 || jobs > 4096)
            throw usage_error("-j/--jobs must be a number of threads from 1 to 4096, not '" + a.jobs + "'");
        write.threads = static_cast<unsigned>(jobs);
    }
    if (a.external || !a.align.empty() || !a.position.empty()) write.layout.layout = fitstream::data_layout::external;
    if (!a.align.empty()) {
        const auto align = parse_number(a.align, "--align");
        if (align > 0x80000000ull) throw fitstream::error(fitstream::errc::invalid_argument, "--align", "too large");
        write.layout.align = static_cast<std::uint32_t>(align);
    }
    if (!a.position.empty()) write.layout.position = parse_number(a.position, "--position");

    // The DTBs are read and checked on the same threads that will compress them.
    options.threads = write.threads;
    fitstream::kernel_fit_report report;
    fitstream::tree fit = fitstream::make_kernel_fit(
        options, a.kernel, a.ramdisk, a.dtbs,
        [&](const std::string& f) {
            if (a.verbose) std::cerr << "fitpack: skipping " << f << ": not a .dtb file\n";
        },
        &report);
    // With 100,000 DTBs each list of paths is MiB: the DTB list is not
    // needed any more, and the files read only for a depfile.
    std::vector<std::string>().swap(a.dtbs);
    if (!a.depfile.empty())
        inputs_read.insert(inputs_read.end(), std::make_move_iterator(report.files_read.begin()),
                           std::make_move_iterator(report.files_read.end()));
    std::vector<std::string>().swap(report.files_read);
    try {
        fit.validate();
    } catch (const fitstream::error& e) {
        // A 64-bit address with one cell: say which option fixes it.
        if (options.address_cells == 1 && e.reason().find("address cells") != std::string::npos)
            throw fitstream::error(e.code(), e.subject(), e.reason() + " (--address-cells 2 or auto)");
        throw;
    }
    // --- Signing (issue 7): specs added and key/DTB checked before any write.
    fitpack::signing_plan signing;
    try {
        signing = fitpack::apply_signing(a.signing, fit);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
    if (a.verbose && report.images_deduplicated > 0)
        std::cerr << "fitpack: deduplicated " << report.images_deduplicated << " image"
                  << (report.images_deduplicated == 1 ? "" : "s") << " with identical contents, saving "
                  << report.bytes_deduplicated << " bytes\n";

    fitpack::stage_signing(signing);  // the new --key-dtb to a temporary file, renamed after the FIT

    // The depfile goes to a temporary file now and is renamed into place
    // only once the FIT has been written.
    std::optional<fitstream::file_sink> depfile;
    std::size_t depfile_size = 0;
    if (!a.depfile.empty()) {
        // Linear, not a search per file: Kbuild may list 100,000 DTBs.
        std::vector<std::string> unique;
        std::unordered_set<std::string_view> seen;
        for (const auto& f : inputs_read)
            if (seen.insert(f).second) unique.push_back(f);
        const std::string text = fitstream::depfile_text(a.output, unique);
        depfile.emplace(a.depfile);
        depfile->write_at(0, text.data(), text.size());
        depfile_size = text.size();
    }
    std::unordered_map<std::string_view, const fitstream::image*> image_by_name;
    for (const auto& conf : fit.configurations) {
        if (!conf.compatible.empty()) continue;
        if (image_by_name.empty())
            for (const auto& img : fit.images) image_by_name.emplace(img.name, &img);
        const fitstream::image* dtb = image_by_name.at(conf.fdt.front());
        std::cerr << "fitpack: warning: " << dtb->data.name() << " (" << conf.description
                      << "): the DTB has no root compatible, so U-Boot can pick " << conf.name
                      << " only by name or as the default\n";
    }

    std::uint64_t input_total = 0;
    fitpack::progress_line progress;
    if (progress.enabled())
        write.on_progress = [&](const fitstream::write_progress& p) { progress.update(p); };
    if (a.verbose) {
        write.on_image = [&](const fitstream::image& img, const fitstream::image_result& r) {
            input_total += r.input_size;
            progress.clear();
            std::cerr << "fitpack: " << img.name << ": " << img.data.name() << ", " << r.input_size << " -> "
                      << r.stored_size << " bytes (" << img.compression() << ")\n";
        };
    }

    fitstream::write_result result;
#ifdef __GLIBC__
    // Reading 100,000 DTBs leaves freed memory scattered through the heap;
    // hand its whole pages back before the structure is built.
    ::malloc_trim(0);
#endif
    try {
        try {
            write_fit_to(a.output, fit, write, result);
        } catch (...) {
            progress.clear();  // the error message gets a line of its own
            throw;
        }
        progress.finish();
    } catch (const fitstream::error& e) {
        // Name layout problems by the option the user typed.
        if (e.subject() == "position") throw fitstream::error(e.code(), "-p/--position", e.reason());
        if (e.subject() == "align") throw fitstream::error(e.code(), "-B/--align", e.reason());
        throw;
    }
    fitpack::finish_signing(signing);  // issue 7: the public key into --key-dtb
    if (depfile) depfile->commit(depfile_size);

    if (a.verbose) {
        char line[160];
        std::snprintf(line, sizeof line, "FIT size %#llx/%s", static_cast<unsigned long long>(result.total_size),
                      megabytes(result.total_size).c_str());
        std::cerr << line;
        if (write.layout.layout == fitstream::data_layout::external) {
            std::snprintf(line, sizeof line, ", header %#llx/%.1f KB",
                          static_cast<unsigned long long>(result.structure_size),
                          static_cast<double>(result.structure_size) / 1024.0);
            std::cerr << line;
        }
        std::cerr << ", " << fit.images.size() << " files, " << fit.configurations.size()
                  << " configurations, uncompressed " << megabytes(input_total) << '\n';
    }
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    // A file size limit (ulimit -f) must read as a write error ("File too
    // large"), not kill fitpack before it can remove its temporary file.
    ::signal(SIGXFSZ, SIG_IGN);
    try {
        // Interrupted (Ctrl-C, kill, hang-up): the temporary output goes too.
        fitstream::remove_temporaries_on_signals();
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const usage_error& e) {
        std::cerr << "fitpack: error: " << e.what() << "\nRun 'fitpack --help' for the options.\n";
        return exit_usage;
    } catch (const fitstream::error& e) {
        std::cerr << "fitpack: error: " << (e.subject().empty() ? "" : e.subject() + ": ") << e.reason() << '\n';
        return exit_failure;
    } catch (const std::exception& e) {
        std::cerr << "fitpack: error: " << e.what() << '\n';
        return exit_failure;
    }
}
