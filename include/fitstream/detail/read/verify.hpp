// SPDX-License-Identifier: MIT
#pragma once

// reader::verify(): every check U-Boot relies on, as a list of problems.
// Each hash algorithm runs once per payload however many hash nodes name
// it, and the list stops at verify_options::max_problems, so the work a
// file can cause grows with its size.

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/hash/binding.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace fitstream {

inline std::vector<problem> reader::verify(const verify_options& options) const {
    std::vector<problem> problems;
    bool full = false;
    const auto report = [&](std::string subject, std::string message,
                            problem::severity level = problem::severity::error) {
        if (full) return;
        if (problems.size() >= options.max_problems) {
            full = true;
            problems.push_back({problem::severity::error, path_,
                                "more than " + std::to_string(options.max_problems) + " problems; stopped checking"});
            return;
        }
        problems.push_back({level, std::move(subject), std::move(message)});
    };

    for (const auto& p : index_problems_) report(p.subject, p.message, p.level);
    // Decoding stops at max_decoded_size for each image and for all of them
    // together, so many small bombs cost no more than one.
    std::uint64_t decode_budget = options.max_decoded_size;
    if (description_.empty()) report("/", "no description (U-Boot requires one)");
    const bool too_deep = detail::for_each_node(fdt(), max_checked_depth, [&](const std::string& path, const std::string& name) {
        if (name.find('@') != std::string::npos)
            report(path, "node name contains '@', which U-Boot refuses when checking signatures (CVE-2021-27138)");
        if (name.find('/') != std::string::npos) report(path, "node name contains '/', which no path can name");
        if (std::any_of(name.begin(), name.end(), [](char c) {
                return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
            }))
            report(path, "node name contains a control character");
    });
    if (too_deep)
        report("/", "nodes nested more than " + std::to_string(max_checked_depth) +
                        " levels deep, which no FIT needs (not checked)");
    // Two nodes of one name under one parent, or two properties of one name
    // in one node: libfdt (and so U-Boot) finds only the first, so what a
    // reader shows and what U-Boot uses can differ. One pass, a name set per
    // level of the walk.
    {
        std::vector<std::unordered_set<std::string_view>> siblings(1);
        std::vector<std::string> path_at{""};
        std::unordered_set<std::string_view> props;
        int depth = 0;
        for (int node = 0; node >= 0 && !full; node = fdt_next_node(fdt(), node, &depth)) {
            if (depth < 0) break;
            if (depth > max_checked_depth) continue;  // reported above
            const auto d = static_cast<std::size_t>(depth);
            int len = 0;
            const char* name = fdt_get_name(fdt(), node, &len);
            const std::string_view own(name ? name : "", name ? static_cast<std::size_t>(len) : 0);
            if (siblings.size() < d + 2) siblings.resize(d + 2);
            siblings[d + 1].clear();  // the previous sibling's children
            path_at.resize(d + 1);
            path_at[d] = d == 0 ? std::string() : path_at[d - 1] + "/" + detail::shown_name(std::string(own));
            const std::string& path = d == 0 ? std::string("/") : path_at[d];
            // Images and configurations of one name are reported by index().
            const bool indexed = d == 2 && (path_at[1] == "/images" || path_at[1] == "/configurations");
            if (d > 0 && !siblings[d].insert(own).second && !indexed)
                report(path, "a second node of this name under one parent (libfdt and U-Boot find only the first)");
            props.clear();
            int prop = 0;
            fdt_for_each_property_offset(prop, fdt(), node) {
                const char* prop_name = nullptr;
                int value_len = 0;
                if (!fdt_getprop_by_offset(fdt(), prop, &prop_name, &value_len) || !prop_name) continue;
                if (!props.insert(prop_name).second)
                    report(path, "two '" + detail::shown_name(prop_name) +
                                     "' properties (libfdt and U-Boot read only the first)");
            }
        }
    }
    if (fdt_subnode_offset(fdt(), 0, "images") < 0) report("/images", "missing");

    for (const auto& img : images_) {
        if (full) break;
        const std::string subject = "/images/" + detail::shown_name(img.name);
        if (img.description.empty()) report(subject, "no description (U-Boot requires one)");
        if (img.type.empty()) report(subject, "no type");
        if (!is_codec_name(img.compression))
            report(subject, "unknown compression '" + detail::shown_name(img.compression) + "'");
        if (img.location == data_location::missing) {
            report(subject, "no data, data-offset or data-position");
            continue;
        }
        if (!img.data_problem.empty()) {
            report(subject, img.data_problem);
            continue;
        }

        // Hashes over the stored bytes: each algorithm once, in one pass,
        // however many nodes name it.
        struct algorithm {
            std::string algo;
            std::unique_ptr<detail::hasher_interface> hasher;
            std::size_t digest_size;
            std::vector<std::uint8_t> digest;
        };
        std::vector<algorithm> algorithms;
        std::vector<std::pair<const hash_info*, std::size_t>> checks;
        for (const auto& h : img.hashes) {
            const std::string hash_subject = subject + "/" + detail::shown_name(h.node);
            auto known = std::find_if(algorithms.begin(), algorithms.end(),
                                      [&](const algorithm& a) { return a.algo == h.algo; });
            if (known == algorithms.end()) {
                std::unique_ptr<detail::hasher_interface> hasher;
                std::size_t digest_size = 0;
                try {
                    visit_hash(h.algo, [&](auto tag) {
                        using hash = typename decltype(tag)::type;
                        hasher = detail::make_hasher<hash>();
                        digest_size = hash::digest_size;
                    });
                } catch (const error&) {
                    report(hash_subject, h.algo.empty()
                                             ? std::string("no algo: U-Boot fails the image (\"Can't get hash algo property\")")
                                             : "hash algo '" + detail::shown_name(h.algo) +
                                                   "' is not one U-Boot knows: it fails the image (\"Unsupported hash algorithm\")");
                    continue;
                }
                algorithms.push_back({h.algo, std::move(hasher), digest_size, {}});
                known = algorithms.end() - 1;
            }
            if (h.value.size() != known->digest_size) {
                report(hash_subject, "value is " + std::to_string(h.value.size()) + " bytes, " + detail::shown_name(h.algo) + " needs " +
                                         std::to_string(known->digest_size));
                continue;
            }
            checks.emplace_back(&h, static_cast<std::size_t>(known - algorithms.begin()));
        }
        if (!checks.empty()) {
            try {
                read_stored(img, [&](const char* p, std::size_t n) {
                    for (auto& a : algorithms) a.hasher->update(p, n);
                });
            } catch (const error& e) {
                // The file changed under the reader, or cannot be read.
                report(subject, e.reason());
                continue;
            }
            for (auto& a : algorithms) {
                a.digest.resize(a.digest_size);
                a.hasher->final(a.digest.data());
            }
            for (const auto& [h, a] : checks) {
                const auto& digest = algorithms[a].digest;
                if (digest != h->value)
                    report(subject + "/" + detail::shown_name(h->node),
                           detail::shown_name(h->algo) + " mismatch: stored " + detail::hex(h->value) + ", data gives " + detail::hex(digest));
            }
        }

        const bool is_fdt = img.type == "flat_dt";
        if (!is_fdt && !options.decode_all) continue;
        // Ciphertext: its hashes are checked above; only U-Boot decrypts.
        if (!img.cipher.empty()) continue;
        if (!is_codec_name(img.compression)) continue;
        if (decode_budget == 0) {
            report(subject, "not decoded: the images before it decode to " + std::to_string(options.max_decoded_size) +
                                " bytes, the limit for all images together");
            continue;
        }
        const std::uint64_t image_limit =
            is_fdt ? std::min<std::uint64_t>(options.max_decoded_size, max_embedded_size) : options.max_decoded_size;
        std::uint64_t spent = 0;  // charged to the budget whether or not decoding succeeds
        try {
            std::vector<char> decoded;
            read_decoded(
                img,
                [&](const char* p, std::size_t n) {
                    spent += n;
                    if (is_fdt) decoded.insert(decoded.end(), p, p + n);
                },
                std::min(image_limit, decode_budget));
            if (is_fdt) {
                std::vector<std::uint64_t> aligned((decoded.size() + 7) / 8);
                if (!decoded.empty()) std::memcpy(aligned.data(), decoded.data(), decoded.size());
                const int rc = detail::check_fdt(aligned.data(), decoded.size());
                if (rc < 0) report(subject, std::string("devicetree does not decode to a valid DTB: ") + fdt_strerror(rc));
            }
        } catch (const error& e) {
            if (decode_budget < image_limit && e.code() == errc::limit_exceeded) {
                report(subject, "decodes past " + std::to_string(options.max_decoded_size) +
                                    " bytes for all images together (the limit is for their sum as well as each)");
                decode_budget = 0;
            } else {
                report(subject, e.reason());
            }
        }
        decode_budget -= std::min(spent, decode_budget);
    }

    if (fdt_subnode_offset(fdt(), 0, "configurations") < 0) report("/configurations", "missing");
    for (const auto& conf : configurations_) {
        if (full) break;
        const std::string subject = "/configurations/" + detail::shown_name(conf.name);
        for (const auto& [prop, ref] : conf.references)
            if (!find_image(ref)) report(subject, prop + " '" + detail::shown_name(ref) + "' names no image");
    }
    if (!default_.empty() && !configuration_index_.count(default_))
        report("/configurations", "default '" + detail::shown_name(default_) + "' names no configuration");
    return problems;
}

}  // namespace fitstream

