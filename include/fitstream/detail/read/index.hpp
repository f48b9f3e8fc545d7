// SPDX-License-Identifier: MIT
#pragma once

// Indexing a FIT as the reader opens it: the checks without which nothing
// else can be trusted, the image and configuration nodes with their
// properties, where each payload is (U-Boot's rules), and the overlap
// policy that keeps usable payloads from sharing a byte. What is wrong but
// readable is noted for verify(), not thrown.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/error.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fitstream {

// A string property (the first string of a list); one that does not end in
// NUL is reported against `subject`: libfdt's string-list functions, which
// U-Boot uses for configuration references, refuse it.
inline std::string reader::get_string(int node, const char* name, const std::string& subject) {
    const auto all = get_strings(node, name, subject);
    return all.empty() ? std::string() : all.front();
}

// A string list. fdt_stringlist_count() says whether U-Boot can read it
// (-FDT_ERR_BADVALUE: the last string is not NUL-terminated; an empty
// property, which it counts as no string, is reported too). The strings are
// then split in one pass, an unterminated last one included, so that the
// reader still shows what the file says: fdt_stringlist_get() would rescan
// the list from its start for each index, quadratic in a hostile list.
inline std::vector<std::string> reader::get_strings(int node, const char* name, const std::string& subject) {
    int len = 0;
    if (!fdt_getprop(fdt(), node, name, &len)) return {};
    if (len <= 0 || fdt_stringlist_count(fdt(), node, name) < 0)
        note(subject, std::string(name) + " is not a NUL-terminated string");
    return detail::fdt_strings_prop(fdt(), node, name);
}

inline void reader::index() {
    if (file_.size() < sizeof(fdt_header)) throw error(errc::bad_image, path_, "too short to be a FIT");
    if (fdt_magic(fdt()) != FDT_MAGIC) throw error(errc::bad_image, path_, "not a FIT (no devicetree magic)");
    if (file_.totalsize() > file_.size())
        throw error(errc::bad_image, path_,
                    "truncated: the structure needs " + std::to_string(file_.totalsize()) + " bytes, the file has " +
                        std::to_string(file_.size()));
    if (fdt_version(fdt()) < detail::min_fdt_version)
        throw error(std::error_code(-FDT_ERR_BADVERSION, libfdt_category()), path_,
                    "devicetree version " + std::to_string(fdt_version(fdt())) + " is older than " +
                        std::to_string(detail::min_fdt_version) + ", which fitstream does not read");
    // What is in memory: the blocks, whose copied header says so (the gap
    // up to the file's totalsize is not read; see detail/io/input_file.hpp).
    const int rc = detail::check_fdt(fdt(), file_.loaded());
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), path_, "invalid FIT structure");

    description_ = get_string(0, "description", "/");
    if (const auto t = detail::fdt_cells_prop(fdt(), 0, "timestamp")) timestamp_ = static_cast<std::uint32_t>(*t);

    const int images = fdt_subnode_offset(fdt(), 0, "images");
    if (images >= 0) {
        int node;
        fdt_for_each_subnode(node, fdt(), images) index_image(node);
    }
    check_overlaps();
    const int confs = fdt_subnode_offset(fdt(), 0, "configurations");
    if (confs >= 0) {
        default_ = get_string(confs, "default", "/configurations");
        int node;
        fdt_for_each_subnode(node, fdt(), confs) index_configuration(node);
    }
}

inline void reader::index_image(int node) {
    image_info img;
    int len = 0;
    const char* name = fdt_get_name(fdt(), node, &len);
    img.name = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
    const std::string subject = "/images/" + detail::shown_name(img.name);
    img.description = get_string(node, "description", subject);
    img.type = get_string(node, "type", subject);
    img.arch = get_string(node, "arch", subject);
    img.os = get_string(node, "os", subject);
    img.compression = get_string(node, "compression", subject);
    if (img.compression.empty()) {
        if (fdt_getprop(fdt(), node, "compression", nullptr))
            note(subject, "compression is an empty string, which names no compression U-Boot knows (write \"none\")");
        img.compression = "none";
    }
    if (const int c = fdt_subnode_offset(fdt(), node, "cipher"); c >= 0) {
        img.cipher = get_string(c, "algo", subject + "/cipher");
        if (img.cipher.empty()) img.cipher = "?";
        img.cipher_key_name = get_string(c, "key-name-hint", subject + "/cipher");
    }
    img.load = detail::fdt_cells_prop(fdt(), node, "load");
    img.entry = detail::fdt_cells_prop(fdt(), node, "entry");
    index_data(node, img);

    int sub;
    fdt_for_each_subnode(sub, fdt(), node) {
        const char* sub_name = fdt_get_name(fdt(), sub, &len);
        const std::string hash_node = sub_name ? std::string(sub_name, static_cast<std::size_t>(len)) : std::string();
        if (hash_node.compare(0, 4, "hash") != 0) continue;
        hash_info h;
        h.node = hash_node;
        h.algo = get_string(sub, "algo", subject + "/" + detail::shown_name(hash_node));
        const auto* value = static_cast<const std::uint8_t*>(fdt_getprop(fdt(), sub, "value", &len));
        if (value && len > 0) h.value.assign(value, value + len);
        img.hashes.push_back(std::move(h));
    }
    // U-Boot looks images up by name and finds the first.
    if (!image_index_.emplace(img.name, images_.size()).second)
        note(subject, "a second image of this name (U-Boot only ever finds the first)");
    images_.push_back(std::move(img));
}

inline void reader::index_data(int node, image_info& img) {
    // U-Boot's fit_image_get_data_and_size() takes data-position, else
    // data-offset (plus the aligned structure size), and only then data;
    // each external property is read as one 32-bit cell, whatever its length.
    const std::string subject = "/images/" + detail::shown_name(img.name);
    int data_len = 0;
    const auto* data = static_cast<const char*>(fdt_getprop(fdt(), node, "data", &data_len));
    const bool position = fdt_getprop(fdt(), node, "data-position", nullptr) != nullptr;
    const bool offset = !position && fdt_getprop(fdt(), node, "data-offset", nullptr) != nullptr;
    if (!position && !offset) {
        if (data) {
            img.location = data_location::embedded;
            img.offset = static_cast<std::uint64_t>(data - file_.data());
            img.size = static_cast<std::uint64_t>(data_len);
        }
        return;
    }
    const char* const prop = position ? "data-position" : "data-offset";
    img.location = position ? data_location::position : data_location::offset;
    if (data) note(subject, std::string("has both data and ") + prop + "; U-Boot reads " + prop + " and ignores data");

    // One cell exactly: with more, U-Boot would read only the first.
    const auto one_cell = [&](const char* name) -> std::optional<std::uint32_t> {
        int len = 0;
        const auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt(), node, name, &len));
        if (!p) {
            img.data_problem = std::string(prop) + " without data-size";
            return std::nullopt;
        }
        if (len != 4) {
            img.data_problem = std::string(name) + " is " + std::to_string(len) + " bytes long, not one 32-bit cell";
            return std::nullopt;
        }
        return fdt32_ld(p);
    };
    const auto where = one_cell(prop);
    if (!where) return;
    const auto size = one_cell("data-size");
    if (!size) return;

    const std::uint64_t structure_end = file_.totalsize();
    const std::uint64_t file_size = file_.size();
    img.offset = (position ? 0 : align_up(structure_end, 4)) + *where;
    img.size = *size;
    if (img.offset > file_size || img.size > file_size - img.offset)
        img.data_problem = "data lies outside the file (bytes " + std::to_string(img.offset) + ".." +
                           std::to_string(img.offset + img.size) + " of a " + std::to_string(file_size) +
                           "-byte file)";
    else if (img.offset < structure_end && img.size > 0)
        img.data_problem = "external data overlaps the FIT structure";
    else if (img.offset + img.size > static_cast<std::uint64_t>(INT32_MAX))
        note(subject, "data ends past 2 GiB, where U-Boot's int offsets and sizes turn negative",
             problem::severity::warning);
}

inline void reader::check_overlaps() {
    // Sorted by offset (ties in node order), each external payload must
    // start at or past the furthest end so far. The later of two overlapping
    // payloads becomes unusable, so usable payloads never share a byte and
    // no file can make the hashing or decoding work grow faster than it.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < images_.size(); ++i) {
        const auto& img = images_[i];
        if ((img.location == data_location::offset || img.location == data_location::position) &&
            img.data_problem.empty() && img.size > 0)
            order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return images_[a].offset < images_[b].offset; });
    std::uint64_t reach = 0;
    std::size_t owner = images_.size();
    for (const std::size_t i : order) {
        auto& img = images_[i];
        const std::uint64_t end = img.offset + img.size;
        if (owner != images_.size() && img.offset < reach)
            img.data_problem = "data overlaps the data of /images/" + detail::shown_name(images_[owner].name);
        if (end > reach) {
            reach = end;
            owner = i;
        }
    }
}

inline void reader::index_configuration(int node) {
    configuration_info conf;
    int len = 0;
    const char* name = fdt_get_name(fdt(), node, &len);
    conf.name = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
    const std::string subject = "/configurations/" + detail::shown_name(conf.name);
    conf.description = get_string(node, "description", subject);
    conf.compatible = get_strings(node, "compatible", subject);
    // Every property U-Boot resolves to an image node.
    for (const char* prop : {"kernel", "fdt", "ramdisk", "loadables", "firmware", "fpga", "setup", "standalone"}) {
        auto refs = get_strings(node, prop, subject);
        // A name listed twice: an fdt applied to itself, an image loaded twice.
        std::vector<std::string> sorted(refs);
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t i = 1; i < sorted.size(); ++i)
            if (sorted[i] == sorted[i - 1] && (i == 1 || sorted[i] != sorted[i - 2]))
                note(subject, std::string(prop) + " lists '" + detail::shown_name(sorted[i]) + "' more than once");
        const std::string_view p = prop;
        if (p == "kernel" && !refs.empty()) conf.kernel = refs.front();
        if (p == "ramdisk" && !refs.empty()) conf.ramdisk = refs.front();
        if (p == "fdt") conf.fdt = refs;
        if (p == "loadables") conf.loadables = refs;
        for (auto& ref : refs) conf.references.emplace_back(prop, std::move(ref));
    }
    if (!configuration_index_.emplace(conf.name, configurations_.size()).second)
        note(subject, "a second configuration of this name (U-Boot only ever finds the first)");
    configurations_.push_back(std::move(conf));
}

}  // namespace fitstream
