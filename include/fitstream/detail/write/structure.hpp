// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The FDT structure of a FIT, built with libfdt's sequential writer before
/// any payload byte exists.
///
/// Every value that depends on a payload has a fixed size (`data-size`,
/// `data-offset` and `data-position` are one cell; a hash `value` has its
/// algorithm's digest size), so the structure can be laid out in full with
/// zero placeholders, and the writer fills them in once the payloads have
/// streamed through codec and hash. For embedded data the `data` property is
/// written with length 0 and the payload is spliced in at that point when
/// the file is assembled: the structure in memory never holds payload bytes.

#include <fitstream/detail/write/fdt_builder.hpp>
#include <fitstream/detail/write/layout_plan.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/version.hpp>

#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

/// Where one image's payload-dependent values sit in the structure blob
/// (byte offsets from the start of the blob).
struct image_slots {
    std::size_t data_end = 0;        ///< embedded: just past the empty `data` property
    std::size_t data_size_at = 0;    ///< external: the `data-size` value
    std::size_t data_offset_at = 0;  ///< external: the `data-offset` or `data-position` value
    std::vector<std::size_t> hash_value_at;  ///< each hash node's `value`, in order
    std::size_t unciphered_size_at = 0;      ///< encrypted: the `data-size-unciphered` value; else 0
    /// A hash_value_at entry for a digest with no hash node: an image
    /// signature over the data needs it, and it is kept in unstored_digests
    /// (concatenated, in image::hashes() order) instead of the blob.
    static constexpr std::size_t unstored = static_cast<std::size_t>(-1);
    std::vector<std::uint8_t> unstored_digests;
};

/// A signature node waiting for its `value` (and, in a configuration, its
/// `hashed-strings`), with the key already loaded and checked.
struct signature_slot {
    std::string node;                  ///< its path, for messages
    signature_algorithm algo;
    signature_padding padding = signature_padding::pkcs1_5;
    std::shared_ptr<const signer> key;
    std::string key_name_hint;
    std::size_t value_at = 0;           ///< `value`, algo.signature_size bytes
    std::size_t hashed_strings_at = 0;  ///< configuration: `hashed-strings`, 8 bytes; image: 0
    /// Configuration: the strings block bytes the signature covers; 0: all
    /// of it. mkimage covers the block as it was before the signature's own
    /// properties were added, and an image tree source is signed as it does.
    std::uint32_t hashed_strings_size = 0;
    std::vector<std::string> hashed_nodes;  ///< configuration: what the signature covers
    std::size_t image = 0;              ///< image signature: the image's index
    std::size_t digest_at = 0;          ///< image signature: its hash node's `value`, the digest signed
    /// Image signature with digest_at == image_slots::unstored: where its
    /// digest starts in the image's unstored_digests.
    std::size_t unstored_digest_at = 0;
};

/// A finished FDT blob with placeholders, and where they are.
struct structure {
    std::vector<char> blob;
    std::vector<image_slots> slots;  ///< one per image, in tree order
    std::vector<signature_slot> signatures;  ///< in node order; detail::signing_stage fills their values
};

/// Loads each key file once, however many signatures use it.
using key_cache = std::map<std::string, std::shared_ptr<const signer>>;

inline signature_slot prepare_signature(const signature_spec& spec, const std::string& node, key_cache& keys) {
    signature_slot slot;
    slot.node = node;
    slot.algo = parse_signature_algorithm(spec.algo);
    slot.padding = spec.padding;
    slot.key_name_hint = spec.key_name_hint;
    if (!spec.key_name_hint.empty()) check_key_name(spec.key_name_hint, node);
    if (spec.key_signer) {
        // The caller's own signer (a token, a command, a service): used as given.
        spec.key_signer->check_for(slot.algo, spec.padding);
        slot.key = spec.key_signer;
        return slot;
    }
    const std::string path = signature_key_path(spec, node);
    auto& key = keys[path];
    if (!key) key = signing_key::load(path);
    key->check_for(slot.algo, spec.padding);
    slot.key = key;
    return slot;
}

/// The properties every signature node has; `value` is left to the caller.
template <class Fdt>
void write_signature_properties(Fdt& fdt, const signature_spec& spec, const tree& fit) {
    fdt.property_string("algo", spec.algo);
    if (!spec.key_name_hint.empty()) fdt.property_string("key-name-hint", spec.key_name_hint);
    if (const char* padding = padding_name(spec.padding)) fdt.property_string("padding", padding);
    // The version names the signer's version, so it goes with the name
    // (and defaults to fitstream's); without a name there is neither.
    if (!spec.signer_name.empty()) {
        fdt.property_string("signer-name", spec.signer_name);
        fdt.property_string("signer-version", spec.signer_version.empty() ? version_string() : spec.signer_version);
    }
    if (!spec.comment.empty()) fdt.property_string("comment", spec.comment);
    if (const auto t = spec.timestamp ? spec.timestamp : fit.timestamp) fdt.property_u32("timestamp", *t);
}

/// The root node's properties.
template <class Fdt>
void write_root_properties(Fdt& fdt, const std::string& description, const std::optional<std::uint32_t>& timestamp,
                           int address_cells) {
    fdt.property_string("description", description);
    if (timestamp) fdt.property_u32("timestamp", *timestamp);
    fdt.property_u32("#address-cells", static_cast<std::uint32_t>(address_cells));
}

/// An image node's properties, placeholders, hash nodes and cipher node:
/// everything but its signature nodes.
template <class Fdt>
void write_image_body(Fdt& fdt, const image& img, int address_cells, data_layout layout, bool absolute,
                      image_slots& slots) {
    fdt.property_string("description", img.description.empty() ? img.name : img.description);
    fdt.property_string("type", img.type);
    if (!img.arch.empty()) fdt.property_string("arch", img.arch);
    if (!img.os.empty()) fdt.property_string("os", img.os);
    fdt.property_string("compression", img.compression());
    if (img.load) fdt.property_cells("load", *img.load, address_cells);
    if (img.entry) fdt.property_cells("entry", *img.entry, address_cells);
    // Encrypted (sign/cipher.hpp): the size before encryption, and below
    // the hash nodes, the cipher node as an image tree source has it.
    if (img.cipher()) slots.unciphered_size_at = fdt.placeholder("data-size-unciphered", 4);
    // Data last among the properties, as mkimage does: a loader reading only
    // the start of the node still sees everything else.
    if (layout == data_layout::embedded) {
        slots.data_end = fdt.placeholder("data", 0);
    } else {
        slots.data_size_at = fdt.placeholder("data-size", 4);
        slots.data_offset_at = fdt.placeholder(absolute ? "data-position" : "data-offset", 4);
    }
    int n = 0;
    for (const auto& h : img.hashes()) {
        fdt.begin_node("hash-" + std::to_string(++n));
        fdt.property_string("algo", h.fit_name);
        slots.hash_value_at.push_back(fdt.placeholder("value", h.digest_size));
        fdt.end_node();
    }
    if (const auto& key = img.cipher()) {
        fdt.begin_node("cipher");
        // mkimage writes a random IV first (libfdt puts a new property first).
        if (key->iv_in_fit()) fdt.property("iv", key->iv().data(), key->iv().size());
        fdt.property_string("algo", key->algo());
        fdt.property_string("key-name-hint", key->key_name_hint());
        if (!key->iv_in_fit()) fdt.property_string("iv-name-hint", key->iv_name_hint());
        fdt.end_node();
    }
}

inline void write_image_node(fdt_builder& fdt, const image& img, int address_cells, data_layout layout,
                             bool absolute, image_slots& slots, const tree& fit, std::size_t index,
                             key_cache& keys, std::vector<signature_slot>& signatures) {
    fdt.begin_node(img.name);
    write_image_body(fdt, img, address_cells, layout, absolute, slots);
    int n = 0;
    for (const auto& spec : img.signatures) {
        const std::string name = "signature-" + std::to_string(++n);
        auto slot = prepare_signature(spec, "/images/" + img.name + "/" + name, keys);
        // U-Boot checks an image signature over the stored bytes; the hash
        // node of the same algorithm holds their digest once they are written.
        const auto& hashes = img.hashes();
        const auto h = std::find_if(hashes.begin(), hashes.end(),
                                    [&](const hash_binding& b) { return b.fit_name == slot.algo.checksum; });
        if (h == hashes.end())
            throw error(errc::invalid_argument, slot.node,
                        "an image signature with " + slot.algo.checksum + " needs a " + slot.algo.checksum +
                            " hash node in the image (it signs that digest)");
        slot.image = index;
        slot.digest_at = slots.hash_value_at[static_cast<std::size_t>(h - hashes.begin())];
        fdt.begin_node(name);
        write_signature_properties(fdt, spec, fit);
        slot.value_at = fdt.placeholder("value", slot.algo.signature_size);
        fdt.end_node();
        signatures.push_back(std::move(slot));
    }
    fdt.end_node();
}

/// The configuration properties a signature covers by default: every one
/// naming images. U-Boot (Debian's 2023.01 too, since the CVE-2026-46728
/// fix) checks a signature over every image the configuration names,
/// whatever `sign-images` says, and refuses one made over fewer.
inline std::vector<std::string> default_sign_images(const configuration& conf) {
    std::vector<std::string> out;
    if (!conf.kernel.empty()) out.push_back("kernel");
    if (!conf.fdt.empty()) out.push_back("fdt");
    if (!conf.ramdisk.empty()) out.push_back("ramdisk");
    if (!conf.loadables.empty()) out.push_back("loadables");
    return out;
}

/// `hashed-nodes` for `spec` in `conf`: what mkimage would list.
inline std::vector<std::string> configuration_hashed_nodes(const tree& fit, const configuration& conf,
                                                           const std::vector<std::string>& sign_images,
                                                           const std::string& node) {
    std::vector<hashed_image> images;
    for (const auto& prop : sign_images) {
        std::vector<std::string> names;
        if (prop == "kernel" && !conf.kernel.empty()) names = {conf.kernel};
        else if (prop == "fdt") names = conf.fdt;
        else if (prop == "ramdisk" && !conf.ramdisk.empty()) names = {conf.ramdisk};
        else if (prop == "loadables") names = conf.loadables;
        else if (prop != "kernel" && prop != "ramdisk")
            throw error(errc::invalid_argument, node,
                        "sign-images '" + prop + "' is not kernel, fdt, ramdisk or loadables");
        for (const auto& name : names) {
            const auto img = std::find_if(fit.images.begin(), fit.images.end(),
                                          [&](const image& i) { return i.name == name; });
            hashed_image h{name, {}, img->cipher() != nullptr};
            for (std::size_t k = 0; k < img->hashes().size(); ++k) h.hashes.push_back("hash-" + std::to_string(k + 1));
            // U-Boot cannot check an image without a hash: mkimage refuses too.
            if (h.hashes.empty())
                throw error(errc::invalid_argument, node,
                            "image '" + name + "' has no hash node, so a signature cannot cover it");
            images.push_back(std::move(h));
        }
    }
    if (images.empty()) throw error(errc::invalid_argument, node, "signs no image (sign-images names none present)");
    return hashed_node_list(conf.name, images);
}

/// U-Boot lists at most 100 nodes to hash for a configuration signature
/// (IMAGE_MAX_HASHED_NODES: mkimage's fit_config_get_hash_list and the
/// verifier's fit_config_get_signed_nodes fail past it), so such a
/// signature could never verify: refuse it before anything is written.
/// Checks `hashed` (what mkimage would list) and the list U-Boot builds
/// itself from every image the configuration names.
inline void check_hashed_node_count(const tree& fit, const configuration& conf, std::size_t hashed,
                                    const std::string& node) {
    std::size_t u_boot = 2;  // "/" and the configuration
    for (const auto& prop : default_sign_images(conf)) {
        std::vector<std::string> names;
        if (prop == "kernel") names = {conf.kernel};
        else if (prop == "ramdisk") names = {conf.ramdisk};
        else names = prop == "fdt" ? conf.fdt : conf.loadables;
        for (const auto& name : names) {
            const auto img = std::find_if(fit.images.begin(), fit.images.end(),
                                          [&](const image& i) { return i.name == name; });
            if (img != fit.images.end()) u_boot += 1 + img->hashes().size();
        }
    }
    const std::size_t most = std::max(hashed, u_boot);
    if (most > max_hashed_nodes)
        throw error(errc::invalid_argument, node,
                    "signing " + std::to_string(most) + " nodes (each image and its hash nodes), but U-Boot "
                    "verifies at most " + std::to_string(max_hashed_nodes) + " per configuration");
}

/// A configuration node's properties: everything but its signature nodes.
template <class Fdt>
void write_configuration_properties(Fdt& fdt, const configuration& conf) {
    fdt.property_string("description", conf.description.empty() ? conf.name : conf.description);
    // The board's compatible belongs here, not in the fdt image node: U-Boot
    // matches configurations by it and cannot open a compressed fdt to look.
    if (!conf.compatible.empty()) fdt.property_strings("compatible", conf.compatible);
    if (!conf.kernel.empty()) fdt.property_string("kernel", conf.kernel);
    if (!conf.fdt.empty()) fdt.property_strings("fdt", conf.fdt);
    if (!conf.ramdisk.empty()) fdt.property_string("ramdisk", conf.ramdisk);
    if (!conf.loadables.empty()) fdt.property_strings("loadables", conf.loadables);
}

inline void write_configuration_node(fdt_builder& fdt, const configuration& conf, const tree& fit, key_cache& keys,
                                     std::vector<signature_slot>& signatures) {
    fdt.begin_node(conf.name);
    write_configuration_properties(fdt, conf);
    int n = 0;
    for (const auto& spec : conf.signatures) {
        const std::string name = "signature-" + std::to_string(++n);
        auto slot = prepare_signature(spec, "/configurations/" + conf.name + "/" + name, keys);
        const auto sign_images = spec.sign_images.empty() ? default_sign_images(conf) : spec.sign_images;
        slot.hashed_nodes = configuration_hashed_nodes(fit, conf, sign_images, slot.node);
        check_hashed_node_count(fit, conf, slot.hashed_nodes.size(), slot.node);
        fdt.begin_node(name);
        write_signature_properties(fdt, spec, fit);
        fdt.property_strings("sign-images", sign_images);
        fdt.property_strings("hashed-nodes", slot.hashed_nodes);
        // Known only once the strings block is complete: filled when signing.
        slot.hashed_strings_at = fdt.placeholder("hashed-strings", 8);
        slot.value_at = fdt.placeholder("value", slot.algo.signature_size);
        fdt.end_node();
        signatures.push_back(std::move(slot));
    }
    fdt.end_node();
}

/// Builds the structure of `fit` for `options.layout`, placeholders zero,
/// with every signature's key loaded and checked against its algorithm.
/// @throws fitstream::error from tree::validate() or libfdt; a key that
///         cannot be read or does not suit its algo (see signing_key).
inline structure build_structure(const tree& fit, const layout_options& options) {
    fit.validate();
    check_layout_options(options);
    structure out;
    out.slots.resize(fit.images.size());
    // Keys are read and checked here, before any payload: a missing or
    // wrong key fails the write before it starts.
    key_cache keys;

    // `slots` null: measuring, where one scratch entry serves every image.
    const auto write = [&](fdt_builder& fdt, std::vector<image_slots>* slots,
                           std::vector<signature_slot>& signatures) {
        image_slots scratch;
        fdt.begin_node("");
        write_root_properties(fdt, fit.description, fit.timestamp, fit.address_cells);

        fdt.begin_node("images");
        for (std::size_t i = 0; i < fit.images.size(); ++i) {
            scratch.hash_value_at.clear();
            write_image_node(fdt, fit.images[i], fit.address_cells, options.layout,
                                     options.position.has_value(), slots ? (*slots)[i] : scratch, fit, i, keys,
                                     signatures);
        }
        fdt.end_node();

        fdt.begin_node("configurations");
        if (!fit.default_configuration.empty()) fdt.property_string("default", fit.default_configuration);
        for (const auto& conf : fit.configurations) write_configuration_node(fdt, conf, fit, keys, signatures);
        fdt.end_node();

        fdt.end_node();
    };

    // Measured first, then built in a buffer of exactly that size, so the
    // blob is never copied to grow and keeps no slack: with 100,000 DTBs it
    // is tens of MiB. (External data's padding after it is never held in
    // memory: see layout_plan::place_data_area().) The keys are loaded in
    // the first pass only.
    std::size_t size = 0;
    {
        auto measure = fdt_builder::measure();
        std::vector<signature_slot> signatures;
        write(measure, nullptr, signatures);
        size = measure.size();
    }
    fdt_builder fdt(size);
    write(fdt, &out.slots, out.signatures);
    out.blob = std::move(fdt).finish();
    return out;
}

}  // namespace detail
}  // namespace fitstream
