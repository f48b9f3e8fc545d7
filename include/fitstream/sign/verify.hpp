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
///
/// Several keys and signatures (checked against U-Boot 2023.01 under QEMU
/// and fit_check_sign 2026.10): each required key is tried on every
/// `signature-N` of the configuration and must verify one itself (a
/// signature whose key-name-hint names another key does not stand in for
/// it); with `required-mode` "all" (or absent, or any other value) every
/// required key must, with "any" one must. Signatures that no required key
/// verifies (made with a key the DTB lacks, an unknown algo, a key only in
/// the build) are ignored when the required keys are satisfied; keys not
/// marked required are never insisted on. One difference is kept on
/// purpose: for image signatures U-Boot checks each signature with the key
/// its key-name-hint names, whichever key is required for images, while
/// this check insists on the required key and says when U-Boot would
/// accept the image anyway.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/error.hpp>
#include <fitstream/reader.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/key_dtb.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
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
    std::string name;  // as shown in messages
    std::string path;  // as shown in messages
    std::string algo;
    std::string padding;
    std::string key_name_hint;
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
        s.name = shown_name(std::string(name, static_cast<std::size_t>(len)));
        s.path = parent_path + "/" + s.name;
        s.algo = fdt_string_prop(fdt, node, "algo");
        s.padding = fdt_string_prop(fdt, node, "padding");
        s.key_name_hint = fdt_string_prop(fdt, node, "key-name-hint");
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
        return "unknown algo '" + shown_name(sig.algo) + "'";
    }
    signature_padding padding = signature_padding::pkcs1_5;
    if (sig.padding == "pss")
        padding = signature_padding::pss;
    else if (!sig.padding.empty() && sig.padding != "pkcs-1.5")
        return "unknown padding '" + shown_name(sig.padding) + "'";
    int len = 0;
    const auto* value = static_cast<const std::uint8_t*>(fdt_getprop(fdt, sig.offset, "value", &len));
    if (!value || len <= 0) return std::string("no value");
    const std::vector<std::uint8_t>* digest = nullptr;
    try {
        digest = &digest_of(algo);
    } catch (const error& e) {
        return e.reason();
    }
    if (!key.verify_digest(algo, padding, *digest, value, static_cast<std::size_t>(len)))
        return "verification failed";
    return std::nullopt;
}

/// What the signature check needs of a FIT, found once for all its
/// configurations, so that checking C configurations costs C times the
/// size of one, not C times the size of the file: the structure walked for
/// regions once, images found by name through a map, each image's hash
/// subnodes listed once.
class signed_fit {
public:
    explicit signed_fit(const reader& fit) : fit_(fit), fdt_(fit.blob()), regions_(fdt_) {
        if (const int images = fdt_subnode_offset(fdt_, 0, "images"); images >= 0) {
            int node = 0;
            fdt_for_each_subnode(node, fdt_, images) {
                int len = 0;
                const char* name = fdt_get_name(fdt_, node, &len);
                if (name) images_.emplace(std::string_view(name, static_cast<std::size_t>(len)), node);
            }
        }
        if (const int confs = fdt_subnode_offset(fdt_, 0, "configurations"); confs >= 0) {
            int node = 0;
            fdt_for_each_subnode(node, fdt_, confs) {
                int len = 0;
                const char* name = fdt_get_name(fdt_, node, &len);
                if (name) configurations_.emplace(std::string_view(name, static_cast<std::size_t>(len)), node);
            }
        }
    }

    const void* fdt() const noexcept { return fdt_; }
    const reader& fit() const noexcept { return fit_; }

    /// The node of image or configuration `name` (the first of that name,
    /// as fdt_path_offset finds it), or -1.
    int image_node(const std::string& name) const {
        const auto it = images_.find(name);
        return it == images_.end() ? -1 : it->second;
    }
    int configuration_node(const std::string& name) const {
        const auto it = configurations_.find(name);
        return it == configurations_.end() ? -1 : it->second;
    }

    /// The nodes a configuration signature covers, as U-Boot works them out
    /// itself (boot/image-fit-sig.c, fit_config_get_signed_nodes; Debian's
    /// 2023.01+dfsg-2+deb12u3 has it as the CVE-2026-46728 fix): "/", the
    /// configuration, then each image a property of the configuration
    /// names (kernel, fdt, ramdisk, loadables, ...) with its hash-*
    /// subnodes. The signature's own `hashed-nodes` is not trusted.
    /// Throws errc::bad_image naming `subject` where U-Boot fails.
    std::vector<std::string> signed_nodes(const configuration_info& conf, const std::string& subject) {
        std::vector<std::string> nodes{"/", "/configurations/" + conf.name};
        std::size_t count = nodes.size(), images = 0;
        for (const auto& ref : conf.references) {
            const int image = image_node(ref.second);
            if (image < 0) continue;  // U-Boot skips what it cannot find
            const auto& sub = subnodes_of(image);
            if (sub.hashes.empty())
                throw error(errc::bad_image, subject, "image '" + shown_name(ref.second) + "' has no hash node");
            count += 1 + sub.hashes.size() + sub.cipher;
            ++images;
            if (count > max_hashed_nodes) continue;  // only counted from here on
            const std::string path = "/images/" + ref.second;
            nodes.push_back(path);
            for (const auto& h : sub.hashes) nodes.push_back(path + "/" + h);
            if (sub.cipher) nodes.push_back(path + "/cipher");
        }
        if (images == 0) throw error(errc::bad_image, subject, "the configuration names no image");
        if (count > max_hashed_nodes) throw error(errc::bad_image, subject, "more than 100 nodes to hash");
        return nodes;
    }

    std::vector<byte_region> regions(const std::vector<std::string>& nodes, const std::string& subject) const {
        return regions_.regions(nodes, subject);
    }

private:
    struct image_subnodes {
        std::vector<std::string> hashes;
        bool cipher = false;
    };
    const image_subnodes& subnodes_of(int image) {
        const auto found = subnodes_.find(image);
        if (found != subnodes_.end()) return found->second;
        image_subnodes out;
        int sub = 0;
        fdt_for_each_subnode(sub, fdt_, image) {
            int len = 0;
            const char* name = fdt_get_name(fdt_, sub, &len);
            if (!name) continue;
            const std::string_view n(name, static_cast<std::size_t>(len));
            if (n.compare(0, 4, "hash") == 0) out.hashes.emplace_back(n);
            if (n == "cipher") out.cipher = true;
        }
        return subnodes_.emplace(image, std::move(out)).first->second;
    }

    const reader& fit_;
    const void* fdt_;
    signed_region_index regions_;
    std::unordered_map<std::string_view, int> images_, configurations_;
    std::unordered_map<int, image_subnodes> subnodes_;
};

/// The digests a configuration's signatures cover, each made once: the
/// regions are worked out on first use, and one digest is made per
/// checksum and `hashed-strings` length however many signatures share it.
class configuration_digests {
public:
    // `budget`: the bytes left to hash for all configurations together; a
    // digest that would pass it is not made (over_budget()).
    configuration_digests(signed_fit& fit, const configuration_info& conf, std::string subject,
                          std::uint64_t& budget)
        : fit_(fit), conf_(conf), subject_(std::move(subject)), budget_(budget) {}

    /// True when a digest was refused because it would pass the budget.
    bool over_budget() const noexcept { return over_budget_; }

    const std::vector<std::uint8_t>& of(const signature_node& sig, const signature_algorithm& algo) {
        if (!computed_) {
            computed_ = true;
            try {
                regions_ = fit_.regions(fit_.signed_nodes(conf_, subject_), subject_);
            } catch (const error& e) {
                failure_ = e.reason();
            }
        }
        if (!failure_.empty()) throw error(errc::bad_image, sig.path, failure_);
        const void* fdt = fit_.fdt();
        int len = 0;
        const auto* strings = static_cast<const std::uint8_t*>(fdt_getprop(fdt, sig.offset, "hashed-strings", &len));
        std::uint64_t strings_size = UINT64_MAX;  // none
        if (strings) {
            if (len < 8) throw error(errc::bad_image, sig.path, "invalid hashed-strings property");
            strings_size = fdt32_ld(reinterpret_cast<const fdt32_t*>(strings) + 1);
            if (strings_size > fdt_size_dt_strings(fdt)) throw error(errc::bad_image, sig.path, "strings region out of bounds");
        }
        const auto key = std::make_pair(algo.checksum, strings_size);
        const auto found = digests_.find(key);
        if (found != digests_.end()) return found->second;
        auto regions = regions_;
        if (strings) regions.push_back({fdt_off_dt_strings(fdt), static_cast<std::size_t>(strings_size)});
        std::uint64_t cost = 0;
        for (const auto& r : regions) cost += r.size;
        if (over_budget_ || cost > budget_) {
            over_budget_ = true;
            budget_ = 0;  // the configurations after this one are not checked either
            throw error(errc::limit_exceeded, sig.path, "not checked: past max_signature_bytes");
        }
        budget_ -= cost;
        return digests_.emplace(key, digest_regions(algo.checksum, static_cast<const char*>(fdt), regions))
            .first->second;
    }

    /// Names the images U-Boot covers that the signature's `hashed-nodes`
    /// (mkimage writes it from `sign-images`) leaves out, for a failure's
    /// explanation; empty when it leaves none out. A `hashed-nodes` that is
    /// absent, empty or not NUL-terminated lists nothing.
    std::string uncovered_images(const signature_node& sig) const {
        // Only where the regions could be made: the configuration then names
        // at most 100 nodes, and the list is read once.
        if (!computed_ || !failure_.empty()) return {};
        const void* fdt = fit_.fdt();
        const bool listed = fdt_stringlist_count(fdt, sig.offset, "hashed-nodes") > 0;
        std::unordered_set<std::string> hashed;
        if (listed)
            for (auto& n : fdt_strings_prop(fdt, sig.offset, "hashed-nodes")) hashed.insert(std::move(n));
        capped_list out(", ");
        for (const auto& [prop, ref] : conf_.references)
            if (!hashed.count("/images/" + ref)) out.add(prop + " '" + shown_name(ref) + "'");
        return out.str();
    }

private:
    signed_fit& fit_;
    const configuration_info& conf_;
    std::string subject_;
    bool computed_ = false;
    std::string failure_;
    std::vector<byte_region> regions_;
    std::map<std::pair<std::string, std::uint64_t>, std::vector<std::uint8_t>> digests_;
    std::uint64_t& budget_;
    bool over_budget_ = false;
};

/// The digest of an image's stored bytes, read as reader::read_stored()
/// reads them (external data included, in bounded pieces).
inline std::vector<std::uint8_t> stored_digest(const reader& fit, const image_info& img, const std::string& checksum) {
    ERR_clear_error();
    evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    const EVP_MD* md = checksum_md(checksum);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw_openssl("cannot start digest");
    fit.read_stored(img, [&](const char* p, std::size_t n) {
        if (EVP_DigestUpdate(ctx.get(), p, n) != 1) throw_openssl("digest update failed");
    });
    std::vector<std::uint8_t> out(static_cast<std::size_t>(EVP_MD_get_size(md)));
    unsigned n = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1) throw_openssl("digest final failed");
    out.resize(n);
    return out;
}

}  // namespace detail

/// Checks the signatures of `fit` with the keys of `keys`, as U-Boot would
/// before booting it; see the file comment. The work grows with the sizes
/// of the FIT and the key DTB times the number of keys, never with the
/// number of configurations times the size of the FIT: the structure is
/// walked once, and each configuration's digest is made once per checksum.
/// @returns one problem per required key a configuration or image does not
///          verify with (a warning, when no key is required; the reasons
///          each signature failed are listed, at most 10 of them and how
///          many more), and one line per signature that verifies. A FIT
///          too large for U-Boot to check any signature is one problem.
///          Configuration signatures hash at most
///          `options.max_signature_bytes` for all configurations together;
///          each configuration past that is one problem saying its
///          signatures were not checked (at most 10, then one line saying
///          how many more), an error where a key is required.
/// @throws fitstream::error only when the key DTB itself is unusable: as
///         key_dtb::keys() for a key node that is not a usable key.
inline signature_verification verify_signatures(const reader& fit, const key_dtb& keys,
                                                const verify_options& options = {}) {
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
    try {
        detail::check_signed_fit_size(fit.structure_size(), fit.path());
    } catch (const error& e) {
        // U-Boot fails every signature check: an error when one is required.
        report(e.subject(), e.reason(), conf_level);
        return out;
    }
    detail::signed_fit signed_fit(fit);
    const void* fdt = fit.blob();
    const auto key_name = [](const key_dtb_key* key) { return detail::shown_name(key->name); };
    std::uint64_t signature_budget = options.max_signature_bytes;
    std::size_t not_checked = 0;  // configurations past the budget

    for (const auto& conf : fit.configurations()) {
        const std::string conf_path = "/configurations/" + detail::shown_name(conf.name);
        const int node = signed_fit.configuration_node(conf.name);
        if (node < 0) continue;
        const auto sigs = detail::signature_nodes(fdt, node, conf_path);
        detail::configuration_digests digests(signed_fit, conf, conf_path, signature_budget);
        std::vector<std::optional<std::string>> uncovered(sigs.size());  // each explained once
        std::size_t good_keys = 0;
        detail::capped_list failures;
        std::vector<problem> conf_problems;  // dropped when the budget stopped the checks
        for (const auto* key : conf_keys) {
            bool ok = false;
            for (std::size_t i = 0; i < sigs.size(); ++i) {
                const auto& sig = sigs[i];
                const auto why = detail::check_signature(fdt, sig, *key->key, [&](const signature_algorithm& algo)
                                                             -> const std::vector<std::uint8_t>& {
                    return digests.of(sig, algo);
                });
                if (why) {
                    std::string because = *why;
                    if (!uncovered[i]) uncovered[i] = digests.uncovered_images(sig);
                    if (!uncovered[i]->empty())
                        because += " (its hashed-nodes leave out " + *uncovered[i] +
                                   ", but U-Boot covers every image the configuration names)";
                    failures.add(sig.name + " with key '" + key_name(key) + "': " + because);
                    continue;
                }
                ok = true;
                out.verified.push_back(sig.path + ": " + detail::shown_name(sig.algo) + ":" + key_name(key) + "+");
                break;
            }
            good_keys += ok;
            if (!ok && !any)
                conf_problems.push_back(
                    {conf_level, conf_path,
                     sigs.empty() ? "no signature node, but key '" + key_name(key) + "' is required"
                                  : "no signature verifies with required key '" + key_name(key) + "'; " +
                                        failures.str()});
        }
        if (any && good_keys == 0 && !conf_keys.empty())
            conf_problems.push_back({conf_level, conf_path,
                                     "no signature verifies with any required key" +
                                         (failures.empty() ? "" : "; " + failures.str())});
        if (digests.over_budget() && !conf_problems.empty()) {
            // Not checked is not failed: one line that says why, no reasons.
            if (++not_checked <= 10)
                report(conf_path,
                       "signatures not checked: the configurations' signatures would hash more than " +
                           std::to_string(options.max_signature_bytes) +
                           " bytes together (max_signature_bytes; a real FIT hashes a few KB for each)",
                       conf_level);
            continue;
        }
        out.problems.insert(out.problems.end(), conf_problems.begin(), conf_problems.end());
    }
    if (not_checked > 10)
        report("/configurations",
               "... and the signatures of " + detail::with_commas(not_checked - 10) +
                   " more configurations not checked (max_signature_bytes)",
               conf_level);


    for (const auto& img : fit.images()) {
        if (image_keys.empty()) break;
        const std::string img_path = "/images/" + detail::shown_name(img.name);
        const int node = signed_fit.image_node(img.name);
        if (node < 0) continue;
        const auto sigs = detail::signature_nodes(fdt, node, img_path);
        std::map<std::string, std::vector<std::uint8_t>> digests;  // by checksum, each made once
        const auto digest_of = [&](const signature_algorithm& algo) -> const std::vector<std::uint8_t>& {
            if (!img.data_problem.empty()) throw error(errc::bad_image, img_path, img.data_problem);
            auto found = digests.find(algo.checksum);
            if (found == digests.end())
                found = digests.emplace(algo.checksum, detail::stored_digest(fit, img, algo.checksum)).first;
            return found->second;
        };
        for (const auto* key : image_keys) {
            bool ok = false;
            detail::capped_list failures;
            for (const auto& sig : sigs) {
                const auto why = detail::check_signature(fdt, sig, *key->key, digest_of);
                if (why) {
                    failures.add(sig.name + ": " + *why);
                    continue;
                }
                ok = true;
                out.verified.push_back(sig.path + ": " + detail::shown_name(sig.algo) + ":" + key_name(key) + "+");
                break;
            }
            if (ok) continue;
            // U-Boot's image check (fit_image_verify_sig) does not insist on
            // the required key: it tries each signature with the key its
            // key-name-hint names. Say so when that would pass here.
            std::string lenient;
            for (const auto& sig : sigs) {
                for (const auto& other : all) {
                    if (&other == key || other.name != sig.key_name_hint) continue;
                    if (!detail::check_signature(fdt, sig, *other.key, digest_of))
                        lenient = " (U-Boot boots it all the same: it checks an image signature with the key its "
                                  "key-name-hint names, here " + sig.name + " with '" + key_name(&other) +
                                  "', whichever key is required for images)";
                }
                if (!lenient.empty()) break;
            }
            report(img_path, sigs.empty() ? "no signature node, but key '" + key_name(key) + "' is required for images"
                                          : "no signature verifies with required key '" + key_name(key) + "'; " +
                                                failures.str() + lenient);
        }
    }
    return out;
}

}  // namespace fitstream
