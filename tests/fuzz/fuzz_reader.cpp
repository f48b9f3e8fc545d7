// SPDX-License-Identifier: MIT
// libFuzzer target: fitstream::reader on arbitrary bytes.
//
// Opens the input from memory, walks every image and configuration, checks
// what the reader promises about them, and runs verify() with a 4 MiB
// decode limit (so decompression bombs stay cheap). fitstream::error is the
// one acceptable failure; any other exception, a crash, a sanitizer report,
// a leak, a hang or a broken promise (__builtin_trap: usable payloads inside
// the file, external ones past the structure and sharing no byte, every
// image found by its name, verify() within max_problems) is a finding.

#include <fitstream/reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

// Stops the fuzzer with a crash the minimiser can work on.
#define FUZZ_CHECK(cond)        \
    do {                        \
        if (!(cond)) __builtin_trap(); \
    } while (0)

volatile std::size_t g_sink;

void walk(const fitstream::reader& fit) {
    std::size_t n = fit.description().size() + fit.default_configuration().size() + fit.path().size();
    FUZZ_CHECK(fit.structure_size() <= fit.file_size());
    std::vector<std::pair<std::uint64_t, std::uint64_t>> external;  // usable external extents
    if (fit.timestamp()) n += *fit.timestamp();
    for (const auto& img : fit.images()) {
        n += img.name.size() + img.description.size() + img.type.size() + img.arch.size() + img.os.size() +
             img.compression.size() + img.data_problem.size();
        if (img.load) n += static_cast<std::size_t>(*img.load);
        if (img.entry) n += static_cast<std::size_t>(*img.entry);
        // Usable stored bytes lie inside the file.
        if (img.location != fitstream::data_location::missing && img.data_problem.empty()) {
            FUZZ_CHECK(img.offset <= fit.file_size());
            FUZZ_CHECK(img.size <= fit.file_size() - img.offset);
            if (img.location != fitstream::data_location::embedded && img.size > 0) {
                // External data never lies in the structure.
                FUZZ_CHECK(img.offset >= fit.structure_size());
                external.emplace_back(img.offset, img.offset + img.size);
            }
        }
        for (const auto& h : img.hashes) n += h.node.size() + h.algo.size() + h.value.size();
        // find_image finds an image of that name (the first, for duplicates).
        const auto* found = fit.find_image(img.name);
        FUZZ_CHECK(found != nullptr && found->name == img.name);
    }
    // Usable payloads never share a byte (what keeps the work linear).
    std::sort(external.begin(), external.end());
    for (std::size_t i = 1; i < external.size(); ++i) FUZZ_CHECK(external[i].first >= external[i - 1].second);
    for (const auto& conf : fit.configurations()) {
        n += conf.name.size() + conf.description.size() + conf.kernel.size() + conf.ramdisk.size();
        for (const auto& c : conf.compatible) n += c.size();
        for (const auto& f : conf.fdt) n += f.size();
        for (const auto& l : conf.loadables) n += l.size();
        for (const auto& [prop, ref] : conf.references) {
            const auto* img = fit.find_image(ref);
            n += prop.size() + (img ? img->size : 0);
        }
    }
    g_sink = n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const fitstream::reader fit(data, size, "fuzz.fit");
        walk(fit);
        fitstream::verify_options options;
        options.max_decoded_size = 4u << 20;
        const auto problems = fit.verify(options);
        FUZZ_CHECK(problems.size() <= options.max_problems + 1);
        for (const auto& p : problems) FUZZ_CHECK(!p.subject.empty() && !p.message.empty());
        options.decode_all = false;
        const auto fdt_only = fit.verify(options);
        // Decoding fewer images never finds more problems.
        FUZZ_CHECK(fdt_only.size() <= problems.size());
    } catch (const fitstream::error&) {
    }
    return 0;
}
