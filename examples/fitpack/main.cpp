// SPDX-License-Identifier: MIT
//
// fitpack: packs a kernel, an optional ramdisk and many devicetree blobs
// into a U-Boot FIT. It takes Linux's scripts/make_fit.py command line
// unchanged, so Kbuild can run it as MAKE_FIT, and adds what make_fit.py
// lacks: hashes, a default configuration, external data in one pass,
// alignment, reproducible timestamps, streaming to standard output.
//
// With -f (or as `fitpack mkimage ARGS`) it builds any FIT from an image
// tree source instead, as mkimage -f does (its_mode.hpp).
//
// A run: parse the command line -> build the tree -> plan the signing ->
// write the FIT -> finish (the key DTB and the depfile, renamed into place
// only once the FIT is). Every error leaves through exit_status().

#include "exit_status.hpp"
#include "its_mode.hpp"
#include "messages.hpp"
#include "outputs.hpp"
#include "pack_options.hpp"
#include "progress.hpp"
#include "read_modes.hpp"
#include "response_files.hpp"
#include "sign_mode.hpp"
#include "signing_options.hpp"

#include <fitstream/fitstream.hpp>

#include <CLI/CLI.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>  // malloc_trim
#endif

namespace {

int pack(CLI::App& app, const std::vector<std::string>& raw_args) {
    // Parse.
    fitpack::pack_arguments a;
    fitpack::add_pack_options(app, a);
    std::vector<std::string> inputs_read;  // every file read, in order: no output may be one; --depfile lists them
    std::vector<std::string> args = fitpack::expand_response_files(raw_args, &inputs_read);
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last-first
    app.parse(args);
    fitpack::check_combinations(a);
    // Usage errors before a million DTBs are read.
    if (!a.signing.signing()) fitpack::refuse_signing_options_without_key(a.signing);
    fitstream::kernel_fit_options options = fitpack::kernel_fit_options_of(a);
    fitstream::write_options write = fitpack::write_options_of(a);
    // The DTBs are read and checked on the same threads that will compress them.
    options.threads = write.threads;
    // Every file read is kept only for a depfile, and for -D's Kbuild .cmd
    // files (no output may be one): with a million DTBs the list is tens of
    // MiB. The clash check below visits the images' files instead.
    options.report_files_read = !a.depfile.empty() || a.decompose_dtbs;

    // Plan the FIT. The DTBs come from the command line, then from each
    // --files-from list, read a line at a time as the plan takes them.
    std::size_t next_positional = 0, next_list = 0;
    std::optional<fitpack::file_list_reader> list;
    const auto next_dtb = [&](std::string& path) {
        if (next_positional < a.dtbs.size()) {
            path = std::move(a.dtbs[next_positional++]);
            return true;
        }
        for (;;) {
            if (list && list->next(path)) return true;
            if (next_list == a.files_from.size()) return false;
            const std::string& name = a.files_from[next_list++];
            list.emplace(name);
            if (name != "-") inputs_read.push_back(name);
        }
    };
    fitstream::kernel_fit_report report;
    fitstream::fit_plan plan = fitstream::plan_kernel_fit(
        options, a.kernel, a.ramdisk, next_dtb,
        [&](const std::string& f) {
            if (a.verbose) std::cerr << "fitpack: skipping " << f << ": not a .dtb file\n";
        },
        &report);
    list.reset();
    std::vector<std::string>().swap(a.dtbs);
    inputs_read.insert(inputs_read.end(), std::make_move_iterator(report.files_read.begin()),
                       std::make_move_iterator(report.files_read.end()));
    std::vector<std::string>().swap(report.files_read);
    fitpack::check_addresses(plan);
    plan.validate();

    // Plan the signing: specs added, key and DTB checked before any write.
    // Signing needs the whole tree (the signed regions are hashed from the
    // structure held in memory): a signed FIT is written from it.
    std::vector<std::string> key_files;
    fitpack::signing_plan signing;
    std::optional<fitstream::tree> signed_fit;
    if (a.signing.signing()) {
        signed_fit = plan.to_tree();
        signing = fitpack::apply_signing(a.signing, *signed_fit);
        for (const auto& img : signed_fit->images)
            for (const auto& sig : img.signatures) key_files.push_back(sig.key_file);
        for (const auto& conf : signed_fit->configurations)
            for (const auto& sig : conf.signatures) key_files.push_back(sig.key_file);
    }
    // No output may be a file read (a DTB, a response file, a --files-from
    // list, the key) or another output; the key DTB is read and rewritten.
    fitstream::detail::refuse_clashing_files(
        {{"output", a.output}, {"--depfile", a.depfile}, {"--key-dtb", a.signing.key_dtb}}, [&](const auto& visit) {
            for (fitstream::fit_plan::image_cursor c(plan); !c.done();) {
                const fitstream::image img = c.next();
                if (img.data.is_file()) visit(img.data.name());
            }
            for (const auto& f : report.deduplicated_files) visit(f);
            for (const auto& f : key_files) visit(f);
            for (const auto& f : inputs_read) visit(f);
            for (const auto& f : signing.inputs) visit(f);
            if (!a.signing.pin_file.empty()) visit(a.signing.pin_file);
        });
    if (a.depfile.empty()) std::vector<std::string>().swap(inputs_read);  // only a depfile lists them
    if (a.verbose) fitpack::report_deduplication(report);
    fitpack::stage_signing(signing);  // the new --key-dtb to a temporary file, renamed after the FIT
    const auto sync = a.no_fsync ? fitstream::file_sync::unsynced : fitstream::file_sync::synced;
    fitpack::staged_depfile depfile(a.depfile, a.output, inputs_read, sync);
    fitpack::warn_configurations_without_compatible(report);
    fitpack::warn_compressed_overlays(plan, report);

    // Write.
    write.image_results = false;  // 24 MiB with a million DTBs; -v reports each image as it is stored
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
#ifdef __GLIBC__
    // Reading 100,000 DTBs leaves freed memory scattered through the heap;
    // hand its whole pages back before the structure is built.
    ::malloc_trim(0);
#endif
    fitstream::write_result result;
    try {
        result = signed_fit ? fitpack::write_fit_to(a.output, *signed_fit, write, sync)
                            : fitpack::write_fit_to(a.output, plan, write, sync);
    } catch (...) {
        progress.clear();  // the error message gets a line of its own
        throw;
    }
    progress.finish();

    // Finish.
    fitpack::finish_signing(signing);  // the public key into --key-dtb
    depfile.commit();
    if (a.verbose)
        fitpack::report_totals(plan, result, write.layout.layout == fitstream::data_layout::external, input_total);
    return fitpack::exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    // A file size limit (ulimit -f) must read as a write error ("File too
    // large"), not kill fitpack before it can remove its temporary file.
    ::signal(SIGXFSZ, SIG_IGN);
    const std::vector<std::string> args(argv + 1, argv + argc);
    CLI::App app{"", "fitpack"};
    try {
        // Interrupted (Ctrl-C, kill, hang-up): the temporary output goes too.
        fitstream::remove_temporaries_on_signals();
        if (fitpack::is_read_verb(args)) return fitpack::run_read_mode(app, args);
        if (fitpack::is_sign_verb(args)) return fitpack::run_sign_mode(app, args);
        if (fitpack::is_its_mode(args)) return fitpack::run_its_mode(args);
        return pack(app, args);
    } catch (...) {
        return fitpack::exit_status(app);
    }
}
