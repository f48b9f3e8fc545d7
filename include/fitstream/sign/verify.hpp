// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Checks a FIT's signatures the way U-Boot's bootm does, with the public
/// keys of a control DTB (what `fitpack verify --key-dtb` runs).
///
/// As U-Boot does (boot/image-fit-sig.c, here Debian's 2023.01+dfsg-2+deb12u3
/// under QEMU): every key marked `required = "conf"` must verify some
/// `signature-N` of each configuration (or, with /signature
/// `required-mode = "any"`, one such key must), over the structure of "/",
/// the configuration and every image the configuration names with its hash
/// nodes (U-Boot works this list out itself and ignores the signature's
/// `hashed-nodes`, which older releases trusted), without the data
/// properties, plus `hashed-strings[1]` bytes of strings; every key marked
/// `required = "image"` must verify a signature of each image, over its
/// stored bytes. When no key is marked required, U-Boot checks nothing
/// (fit_config_verify_required_keys() returns success) and boots the FIT
/// unchecked: then every key is tried on the configurations for
/// information, and what does not verify is a warning, not an error.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/error.hpp>
#include <fitstream/reader.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/key_dtb.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fitstream {

/// What verify_signatures() found.
struct signature_verification {
    std::vector<problem> problems;
    /// One line per signature that verified: "/configurations/conf-1/signature-1: sha256,rsa2048:dev+".
    std::vector<std::string> verified;
};

namespace detail {

struct signature_node {
    std::string path;
    std::string algo;
    std::string padding;
    std::string hint;
    int offset = -1;
};

inline std::vector<signature_node> signature_nodes(const void* fdt, int parent, const std::string& parent_path) {
    std::vector<signature_node> out;
    int node = 0;
    fdt_for_each_subnode(node, fdt, parent) {
        int len = 0;
        const char* name = fdt_get_name(fdt, node, &len);
        if (!name || std::string_view(name, static_cast<std::size_t>(len)).compare(0, 9, "signature") != 0) continue;
        signature_node s;
        s.path = parent_path + "/" + std::string(name, static_cast<std::size_t>(len));
        s.algo = fdt_string_prop(fdt, node, "algo");
        s.padding = fdt_string_prop(fdt, node, "padding");
        s.hint = fdt_string_prop(fdt, node, "key-name-hint");
        s.offset = node;
        out.push_back(std::move(s));
    }
    return out;
}

/// Checks one signature node against `key` over `digest_of(algo)`; returns
/// why it fails, or nullopt when it verifies.
template <class DigestOf>
std::optional<std::string> check_signature(const void* fdt, const signature_node& sig, const public_key& key,
                                           DigestOf&& digest_of) {
    signature_algorithm algo;
    try {
        algo = parse_signature_algorithm(sig.algo);
    } catch (const error&) {
        return "unknown algo '" + sig.algo + "'";
    }
    signature_padding padding = signature_padding::pkcs1_5;
    if (sig.padding == "pss")
        padding = signature_padding::pss;
    else if (!sig.padding.empty() && sig.padding != "pkcs-1.5")
        return "unknown padding '" + sig.padding + "'";
    int len = 0;
    const auto* value = static_cast<const std::uint8_t*>(fdt_getprop(fdt, sig.offset, "value", &len));
    if (!value || len <= 0) return std::string("no value");
    std::vector<std::uint8_t> digest;
    try {
        digest = digest_of(algo);
    } catch (const error& e) {
        return e.reason();
    }
    if (!key.verify_digest(algo, padding, digest, value, static_cast<std::size_t>(len)))
        return "verification failed";
    return std::nullopt;
}

/// The nodes a configuration signature covers, as U-Boot works them out
/// itself (boot/image-fit-sig.c, fit_config_get_signed_nodes; Debian's
/// 2023.01+dfsg-2+deb12u3 has it as the CVE-2026-46728 fix): "/", the
/// configuration, then each image a property of the configuration names
/// (kernel, fdt, ramdisk, loadables, ...) with its hash-* subnodes. The
/// signature's own `hashed-nodes` is not trusted.
inline std::vector<std::string> signed_nodes(const void* fdt, const configuration_info& conf,
                                             const std::string& subject) {
    std::vector<std::string> nodes{"/", "/configurations/" + conf.name};
    std::size_t images = 0;
    for (const auto& ref : conf.references) {
        const std::string path = "/images/" + ref.second;
        const int image = fdt_path_offset(fdt, path.c_str());
        if (image < 0) continue;  // U-Boot skips what it cannot find
        nodes.push_back(path);
        std::size_t hashes = 0;
        int sub = 0;
        fdt_for_each_subnode(sub, fdt, image) {
            int len = 0;
            const char* name = fdt_get_name(fdt, sub, &len);
            if (!name || std::string_view(name, static_cast<std::size_t>(len)).compare(0, 4, "hash") != 0) continue;
            nodes.push_back(path + "/" + std::string(name, static_cast<std::size_t>(len)));
            ++hashes;
        }
        if (hashes == 0) throw error(errc::bad_image, subject, "image '" + ref.second + "' has no hash node");
        if (fdt_subnode_offset(fdt, image, "cipher") >= 0) nodes.push_back(path + "/cipher");
        ++images;
    }
    if (images == 0) throw error(errc::bad_image, subject, "the configuration names no image");
    if (nodes.size() > max_hashed_nodes) throw error(errc::bad_image, subject, "more than 100 nodes to hash");
    return nodes;
}

/// The digest a configuration signature covers (see the file comment).
inline std::vector<std::uint8_t> configuration_digest(const void* fdt, const signature_node& sig,
                                                      const configuration_info& conf,
                                                      const signature_algorithm& algo) {
    const auto nodes = signed_nodes(fdt, conf, sig.path);
    auto regions = find_signed_regions(fdt, nodes, sig.path);
    int len = 0;
    const auto* strings = static_cast<const std::uint8_t*>(fdt_getprop(fdt, sig.offset, "hashed-strings", &len));
    if (strings) {
        if (len < 8) throw error(errc::bad_image, sig.path, "invalid hashed-strings property");
        const std::uint32_t size = fdt32_ld(reinterpret_cast<const fdt32_t*>(strings) + 1);
        if (size > fdt_size_dt_strings(fdt)) throw error(errc::bad_image, sig.path, "strings region out of bounds");
        regions.push_back({fdt_off_dt_strings(fdt), size});
    }
    return digest_regions(algo.checksum, static_cast<const char*>(fdt), regions);
}

/// Names the images U-Boot covers that the signature's `hashed-nodes`
/// (mkimage writes it from `sign-images`) leaves out, for a failure's
/// explanation; empty when it leaves none out. A `hashed-nodes` that is
/// absent, empty or not NUL-terminated lists nothing: fdt_stringlist_count
/// says so first, since fdt_stringlist_search can find a name ahead of
/// the unterminated end.
inline std::string uncovered_images(const void* fdt, const signature_node& sig, const configuration_info& conf) {
    const bool listed = fdt_stringlist_count(fdt, sig.offset, "hashed-nodes") > 0;
    std::string out;
    for (const auto& [prop, ref] : conf.references)
        if (!listed || fdt_stringlist_search(fdt, sig.offset, "hashed-nodes", ("/images/" + ref).c_str()) < 0)
            out += (out.empty() ? "" : ", ") + prop + " '" + ref + "'";
    return out;
}

}  // namespace detail

/// Checks the signatures of `fit` with the keys of `keys`, as U-Boot would
/// before booting it; see the file comment.
/// @returns one problem per required key a configuration or image does not
///          verify with (a warning, when no key is required), and one line
///          per signature that verifies. A FIT too large for U-Boot to check
///          any signature is one problem.
/// @throws fitstream::error only when the key DTB itself is unusable: as
///         key_dtb::keys() for a key node that is not a usable key.
inline signature_verification verify_signatures(const reader& fit, const key_dtb& keys) {
    signature_verification out;
    const auto report = [&](std::string subject, std::string message,
                            problem::severity level = problem::severity::error) {
        out.problems.push_back({level, std::move(subject), std::move(message)});
    };
    const auto all = keys.keys();
    if (all.empty()) {
        report(keys.path(), "no public keys under /signature");
        return out;
    }
    std::vector<const key_dtb_key*> conf_keys, image_keys;
    for (const auto& k : all) {
        if (k.required == "conf") conf_keys.push_back(&k);
        if (k.required == "image") image_keys.push_back(&k);
    }
    const bool advisory = conf_keys.empty() && image_keys.empty();
    if (advisory) {
        report(keys.path(),
               "no key is marked required, so U-Boot checks no signature and boots any FIT; checking "
               "configurations with every key, for information only",
               problem::severity::warning);
        for (const auto& k : all) conf_keys.push_back(&k);
    }
    const auto conf_level = advisory ? problem::severity::warning : problem::severity::error;
    const bool any = keys.required_mode() == "any";
    const void* fdt = fit.blob();
    try {
        detail::check_signed_fit_size(fit.structure_size(), fit.path());
    } catch (const error& e) {
        // U-Boot fails every signature check: an error when one is required.
        report(e.subject(), e.reason(), conf_level);
        return out;
    }

    for (const auto& conf : fit.configurations()) {
        const std::string conf_path = "/configurations/" + conf.name;
        const int node = fdt_path_offset(fdt, conf_path.c_str());
        if (node < 0) continue;
        const auto sigs = detail::signature_nodes(fdt, node, conf_path);
        std::size_t good_keys = 0;
        std::string failures;
        for (const auto* key : conf_keys) {
            bool ok = false;
            for (const auto& sig : sigs) {
                const auto why = detail::check_signature(fdt, sig, *key->key, [&](const signature_algorithm& algo) {
                    return detail::configuration_digest(fdt, sig, conf, algo);
                });
                if (why) {
                    std::string because = *why;
                    const std::string missing = detail::uncovered_images(fdt, sig, conf);
                    if (!missing.empty())
                        because += " (its hashed-nodes leave out " + missing +
                                   ", but U-Boot covers every image the configuration names)";
                    failures += "; " + sig.path.substr(conf_path.size() + 1) + " with key '" + key->name + "': " + because;
                    continue;
                }
                ok = true;
                out.verified.push_back(sig.path + ": " + sig.algo + ":" + key->name + "+");
                break;
            }
            good_keys += ok;
            if (!ok && !any)
                report(conf_path,
                       sigs.empty() ? "no signature node, but key '" + key->name + "' is required"
                                    : "no signature verifies with required key '" + key->name + "'" + failures,
                       conf_level);
        }
        if (any && good_keys == 0 && !conf_keys.empty())
            report(conf_path, "no signature verifies with any required key" + failures, conf_level);
    }

    for (const auto& img : fit.images()) {
        if (image_keys.empty()) break;
        const std::string img_path = "/images/" + img.name;
        const int node = fdt_path_offset(fdt, img_path.c_str());
        if (node < 0) continue;
        const auto sigs = detail::signature_nodes(fdt, node, img_path);
        for (const auto* key : image_keys) {
            bool ok = false;
            std::string failures;
            for (const auto& sig : sigs) {
                const auto why = detail::check_signature(fdt, sig, *key->key, [&](const signature_algorithm& algo) {
                    if (!img.data_problem.empty()) throw error(errc::bad_image, img_path, img.data_problem);
                    return detail::digest_regions(algo.checksum, static_cast<const char*>(fdt),
                                                  {{static_cast<std::size_t>(img.offset), static_cast<std::size_t>(img.size)}});
                });
                if (why) {
                    failures += "; " + sig.path.substr(img_path.size() + 1) + ": " + *why;
                    continue;
                }
                ok = true;
                out.verified.push_back(sig.path + ": " + sig.algo + ":" + key->name + "+");
                break;
            }
            if (!ok)
                report(img_path, sigs.empty() ? "no signature node, but key '" + key->name + "' is required for images"
                                              : "no signature verifies with required key '" + key->name + "'" + failures);
        }
    }
    return out;
}

}  // namespace fitstream
