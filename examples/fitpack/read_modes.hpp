// SPDX-License-Identifier: MIT
#pragma once

// fitpack's read modes over fitstream::reader:
//   fitpack list FIT [--json]
//   fitpack verify FIT [--max-decoded-size N] [--key-dtb U-BOOT.dtb]
//   fitpack extract FIT IMAGE -o FILE [--raw]
// A verb is recognised only as the first argument and only when no file of
// that name exists, so a make_fit.py command line is never taken for one.

#include "exit_status.hpp"
#include "outputs.hpp"
#include "validators.hpp"

#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/reader.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/sign/verify.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace fitpack {

inline bool is_read_verb(const std::vector<std::string>& args) {
    if (args.empty()) return false;
    const auto& verb = args.front();
    if (verb != "list" && verb != "verify" && verb != "extract") return false;
    struct stat st {};
    return ::stat(verb.c_str(), &st) != 0;
}

namespace verbs {

/// The largest power of two (up to 1 MiB) that divides `offset`.
inline std::uint64_t alignment_of(std::uint64_t offset) {
    std::uint64_t align = 1;
    while (align < (1u << 20) && offset % (align * 2) == 0) align *= 2;
    return align;
}

inline const char* location_name(fitstream::data_location location) {
    switch (location) {
        case fitstream::data_location::embedded: return "embedded";
        case fitstream::data_location::offset: return "data-offset";
        case fitstream::data_location::position: return "data-position";
        case fitstream::data_location::missing: break;
    }
    return "missing";
}

/// Decoded size of an image, or nullopt (with the reason) when it does not
/// decode. `budget` is what is left of the bytes list decodes for all
/// images together (1 GiB): many small bombs cost no more than one.
inline std::optional<std::uint64_t> decoded_size(const fitstream::reader& fit, const fitstream::image_info& img,
                                                 std::string& why, std::uint64_t& budget) {
    if (budget == 0) {
        why = "not decoded: the images before it decode to 1073741824 bytes, the limit for all together";
        return std::nullopt;
    }
    std::uint64_t spent = 0;
    try {
        const auto size = fit.read_decoded(img, [&](const char*, std::size_t n) { spent += n; }, budget);
        budget -= size;
        return size;
    } catch (const fitstream::error& e) {
        budget -= std::min(spent, budget);
        why = e.reason();
        return std::nullopt;
    }
}

inline std::string hex_bytes(const std::vector<std::uint8_t>& bytes) {
    std::string out;
    char two[3];
    for (const auto b : bytes) {
        std::snprintf(two, sizeof two, "%02x", b);
        out += two;
    }
    return out;
}

inline int list(const std::string& path, bool json) {
    const fitstream::reader fit(path);
    std::uint64_t budget = 1ull << 30;
    if (json) {
        nlohmann::ordered_json doc;
        doc["file"] = path;
        doc["size"] = fit.file_size();
        doc["structure_size"] = fit.structure_size();
        doc["description"] = fit.description();
        doc["timestamp"] = fit.timestamp() ? nlohmann::ordered_json(*fit.timestamp()) : nlohmann::ordered_json();
        doc["images"] = nlohmann::ordered_json::array();
        for (const auto& img : fit.images()) {
            nlohmann::ordered_json j;
            j["name"] = img.name;
            j["description"] = img.description;
            j["type"] = img.type;
            j["arch"] = img.arch;
            j["os"] = img.os;
            j["compression"] = img.compression;
            if (img.load) j["load"] = *img.load;
            if (img.entry) j["entry"] = *img.entry;
            j["location"] = location_name(img.location);
            j["offset"] = img.offset;
            j["alignment"] = alignment_of(img.offset);
            j["stored_size"] = img.size;
            std::string why;
            const auto decoded = img.data_problem.empty() ? decoded_size(fit, img, why, budget) : std::nullopt;
            j["decoded_size"] = decoded ? nlohmann::ordered_json(*decoded) : nlohmann::ordered_json();
            if (!img.data_problem.empty() || !decoded) j["problem"] = img.data_problem.empty() ? why : img.data_problem;
            j["hashes"] = nlohmann::ordered_json::array();
            for (const auto& h : img.hashes)
                j["hashes"].push_back({{"node", h.node}, {"algo", h.algo}, {"value", hex_bytes(h.value)}});
            doc["images"].push_back(std::move(j));
        }
        doc["default"] = fit.default_configuration();
        doc["configurations"] = nlohmann::ordered_json::array();
        for (const auto& conf : fit.configurations()) {
            doc["configurations"].push_back({{"name", conf.name},
                                             {"description", conf.description},
                                             {"compatible", conf.compatible},
                                             {"kernel", conf.kernel},
                                             {"fdt", conf.fdt},
                                             {"ramdisk", conf.ramdisk},
                                             {"loadables", conf.loadables}});
        }
        // Strings come from the file and need not be UTF-8, which JSON
        // requires: replace what is not (U+FFFD) rather than fail the listing.
        std::cout << doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
        return 0;
    }

    std::cout << "FIT description: " << shown(fit.description(), 4096) << '\n';
    if (fit.timestamp()) std::cout << "Timestamp:       " << *fit.timestamp() << '\n';
    std::cout << "File size:       " << fit.file_size() << " bytes (structure " << fit.structure_size() << ")\n";
    int index = 0;
    for (const auto& img : fit.images()) {
        std::cout << " Image " << index++ << " (" << shown(img.name) << ")\n";
        std::cout << "  Description:  " << shown(img.description, 4096) << '\n';
        std::cout << "  Type:         " << shown(img.type) << '\n';
        if (!img.arch.empty()) std::cout << "  Architecture: " << shown(img.arch) << '\n';
        if (!img.os.empty()) std::cout << "  OS:           " << shown(img.os) << '\n';
        std::cout << "  Compression:  " << shown(img.compression) << '\n';
        if (img.load) std::cout << "  Load Address: 0x" << std::hex << *img.load << std::dec << '\n';
        if (img.entry) std::cout << "  Entry Point:  0x" << std::hex << *img.entry << std::dec << '\n';
        if (!img.data_problem.empty()) {
            std::cout << "  Data:         " << location_name(img.location) << ", unusable: " << shown(img.data_problem, 4096) << '\n';
        } else {
            std::cout << "  Data:         " << location_name(img.location) << " at offset " << img.offset
                      << " (aligned to " << alignment_of(img.offset) << ")\n";
            std::cout << "  Stored Size:  " << img.size << " bytes\n";
            std::string why;
            if (const auto decoded = decoded_size(fit, img, why, budget)) {
                char ratio[32];
                std::snprintf(ratio, sizeof ratio, "%.1f%%",
                              *decoded ? 100.0 * static_cast<double>(img.size) / static_cast<double>(*decoded) : 100.0);
                std::cout << "  Decoded Size: " << *decoded << " bytes (stored " << ratio << ")\n";
            } else {
                std::cout << "  Decoded Size: cannot decode: " << shown(why, 4096) << '\n';
            }
        }
        for (const auto& h : img.hashes) {
            std::cout << "  Hash algo:    " << shown(h.algo) << '\n';
            std::cout << "  Hash value:   " << hex_bytes(h.value) << '\n';
        }
    }
    if (!fit.default_configuration().empty())
        std::cout << " Default Configuration: '" << shown(fit.default_configuration()) << "'\n";
    index = 0;
    for (const auto& conf : fit.configurations()) {
        std::cout << " Configuration " << index++ << " (" << shown(conf.name) << ")\n";
        std::cout << "  Description:  " << shown(conf.description, 4096) << '\n';
        if (!conf.kernel.empty()) std::cout << "  Kernel:       " << shown(conf.kernel) << '\n';
        if (!conf.ramdisk.empty()) std::cout << "  Init Ramdisk: " << shown(conf.ramdisk) << '\n';
        for (const auto& f : conf.fdt) std::cout << "  FDT:          " << shown(f) << '\n';
        for (const auto& l : conf.loadables) std::cout << "  Loadables:    " << shown(l) << '\n';
        for (const auto& c : conf.compatible) std::cout << "  Compatible:   " << shown(c) << '\n';
    }
    return 0;
}

inline int verify(const std::string& path, std::uint64_t max_decoded, const std::string& key_dtb) {
    const fitstream::reader fit(path);
    fitstream::verify_options options;
    options.max_decoded_size = max_decoded;
    int errors = 0;
    auto problems = fit.verify(options);
    // Signatures as U-Boot checks them, with the keys of its control DTB.
    std::vector<std::string> verified;
    if (!key_dtb.empty()) {
        const fitstream::key_dtb keys(key_dtb);
        auto sigs = fitstream::verify_signatures(fit, keys, options);
        problems.insert(problems.end(), sigs.problems.begin(), sigs.problems.end());
        verified = std::move(sigs.verified);
    }
    const std::string file = shown(path);
    for (const auto& v : verified) std::cout << file << ": " << shown(v) << " OK\n";
    for (const auto& p : problems) {
        const bool is_error = p.level == fitstream::problem::severity::error;
        errors += is_error;
        std::cerr << "fitpack: " << (is_error ? "error: " : "warning: ") << file << ": " << shown(p.subject) << ": "
                  << shown(p.message, 4096) << '\n';
    }
    if (errors) return 1;
    std::size_t hashes = 0;
    for (const auto& img : fit.images()) hashes += img.hashes.size();
    std::cout << file << ": OK (" << fit.images().size() << " images, " << fit.configurations().size()
              << " configurations, " << hashes << " hashes"
              << (key_dtb.empty() ? std::string() : ", " + std::to_string(verified.size()) + " signatures verified")
              << ")\n";
    return 0;
}

inline int extract(const std::string& path, const std::string& which, const std::string& output, bool raw) {
    const fitstream::reader fit(path);
    const fitstream::image_info* img = fit.find_image(which);
    if (!img && !which.empty() && which.find_first_not_of("0123456789") == std::string::npos) {
        errno = 0;
        const auto index = std::strtoull(which.c_str(), nullptr, 10);
        if (errno == 0 && index < fit.images().size()) img = &fit.images()[index];
    }
    if (!img) throw fitstream::error(fitstream::errc::invalid_argument, which, "no such image in " + shown(path));
    const auto out = open_output(output, {path}, false);  // never over the FIT itself
    std::uint64_t at = 0;
    const auto write = [&](const char* p, std::size_t n) {
        out->write_at(at, p, n);
        at += n;
    };
    if (raw)
        fit.read_stored(*img, write);
    else
        fit.read_decoded(*img, write);
    out->commit(at);
    return 0;
}

}  // namespace verbs

/// Runs a read verb on `app`; `args` starts with the verb. Returns the
/// exit status (1 when verify finds a problem); throws the rest.
inline int run_read_mode(CLI::App& app, const std::vector<std::string>& args) {
    const std::string& verb = args.front();
    app.name("fitpack " + verb);
    app.description("Read, check or take apart a FIT");
    std::string fit_path, image, output, key_dtb;
    bool json = false, raw = false;
    std::uint64_t max_decoded = 1ull << 30;
    app.add_option("FIT", fit_path, "The FIT file")->required();
    if (verb == "list") {
        app.add_flag("--json", json, "Machine-readable output");
    } else if (verb == "verify") {
        app.add_option("--max-decoded-size", max_decoded, "Largest decoded image size accepted, in bytes")
            ->check(unsigned_argument())
            ->capture_default_str();
        app.add_option("--key-dtb", key_dtb,
                       "Check signatures with the public keys in this U-Boot control DTB, as bootm does");
    } else {
        app.add_option("IMAGE", image, "Image node name (\"kernel\", \"fdt-3\") or index")->required();
        app.add_option("-o,--output", output, "Output file, or - for standard output")->required();
        app.add_flag("--raw", raw, "Write the stored (compressed) bytes instead of decoding them");
    }
    std::vector<std::string> rest(args.rbegin(), args.rend() - 1);  // CLI11 wants them last-first
    app.parse(rest);
    if (verb == "list") return verbs::list(fit_path, json);
    if (verb == "verify") return verbs::verify(fit_path, max_decoded, key_dtb);
    return verbs::extract(fit_path, image, output, raw);
}

}  // namespace fitpack
