// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The FIT to write, as a value: images (each with its data source, codec
/// and hashes) and configurations that reference them by name.
///
/// @code
/// fitstream::tree fit;
/// fit.description = "Linux with devicetree set";
/// auto& kernel = fit.images.emplace_back("kernel", "kernel_noload", fitstream::source::file("Image"));
/// kernel.compress_with<fitstream::codec::gzip>();
/// kernel.add_hash<fitstream::hash::sha256>();
/// @endcode

#include <fitstream/codec/concept.hpp>
#include <fitstream/codec/none.hpp>
#include <fitstream/detail/codec/binding.hpp>
#include <fitstream/detail/hash/binding.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/concept.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/sign/cipher.hpp>
#include <fitstream/sign/spec.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace fitstream {

class fit_plan;  // <fitstream/plan.hpp>

/// One node under /images: metadata, the data source, a codec and hashes.
class image {
public:
    /// @param name node name ("kernel", "fdt-1")
    /// @param type FIT image type ("kernel", "kernel_noload", "flat_dt", "ramdisk", ...)
    image(std::string name, std::string type, source data)
        : name(std::move(name)), type(std::move(type)), data(std::move(data)) {
        compress_with<codec::none>();
    }

    std::string name;                    ///< node name under /images
    std::string type;                    ///< FIT `type`
    source data;                         ///< where the bytes come from
    std::string description;             ///< FIT `description` (required by U-Boot; defaults to the name)
    std::string arch;                    ///< FIT `arch`; omitted when empty
    std::string os;                      ///< FIT `os`; omitted when empty
    std::optional<std::uint64_t> load;   ///< FIT `load` address, in the tree's address cells
    std::optional<std::uint64_t> entry;  ///< FIT `entry` address
    /// `signature-N` nodes over the stored bytes (U-Boot checks them with
    /// keys marked `required = "image"`). Each needs a hash node of its
    /// checksum algorithm: the signature signs that digest.
    std::vector<signature_spec> signatures;

    /// Stores this image compressed with `Codec` and its default options
    /// (without a call, images are stored as is). Every image so bound
    /// shares one codec object.
    template <class Codec>
    image& compress_with() {
        static_assert(check_codec<Codec>());
        static const std::shared_ptr<const detail::codec_interface> shared =
            std::make_shared<const detail::codec_model<Codec>>(typename Codec::options{});
        codec_ = {Codec::fit_name, shared};
        return *this;
    }

    /// Stores this image compressed with `Codec` and `options`.
    template <class Codec>
    image& compress_with(typename Codec::options options) {
        static_assert(check_codec<Codec>());
        codec_ = {Codec::fit_name, std::make_shared<const detail::codec_model<Codec>>(options)};
        return *this;
    }

    /// Adds a `hash-N` node computed with `Hash` over the stored bytes.
    template <class Hash>
    image& add_hash() {
        static_assert(check_hash<Hash>());
        hashes_.push_back({Hash::fit_name, Hash::digest_size, &detail::make_hasher<Hash>});
        return *this;
    }

    /// Removes every hash node.
    image& clear_hashes() noexcept {
        hashes_.clear();
        return *this;
    }

    /// Stores this image encrypted (after compression) as mkimage does
    /// (see sign/cipher.hpp): reads the key and IV files `spec` names now.
    /// Its hashes then cover the encrypted bytes, as U-Boot checks them.
    /// @throws fitstream::error as cipher_key::load()
    image& encrypt_with(const cipher_spec& spec) {
        cipher_ = cipher_key::load(spec, "/images/" + name + "/cipher");
        return *this;
    }

    /// Stores this image encrypted with a key already loaded (shared by
    /// several images, or null to store it in the clear).
    image& encrypt_with(std::shared_ptr<const cipher_key> key) noexcept {
        cipher_ = std::move(key);
        return *this;
    }

    /// The key this image is encrypted with; null when it is not.
    const std::shared_ptr<const cipher_key>& cipher() const noexcept { return cipher_; }

    /// The FIT `compression` value.
    std::string_view compression() const noexcept { return codec_.fit_name; }
    const detail::codec_binding& codec() const noexcept { return codec_; }
    const std::vector<detail::hash_binding>& hashes() const noexcept { return hashes_; }

private:
    friend class fit_plan;  // keeps images as records and makes them again
    detail::codec_binding codec_;
    std::vector<detail::hash_binding> hashes_;
    std::shared_ptr<const cipher_key> cipher_;
};

/// One node under /configurations: what to boot together.
struct configuration {
    std::string name;                     ///< node name ("conf-1")
    std::string description;              ///< FIT `description`
    std::vector<std::string> compatible;  ///< the board's root compatible, most specific first
    std::string kernel;                   ///< image name, or empty
    std::vector<std::string> fdt;         ///< base devicetree then overlays, by image name
    std::string ramdisk;                  ///< image name, or empty
    std::vector<std::string> loadables;   ///< image names
    /// `signature-N` nodes (U-Boot's verified boot: checked with keys
    /// marked `required = "conf"`).
    std::vector<signature_spec> signatures;
};

/// A whole FIT: root properties, images and configurations.
struct tree {
    std::string description;                 ///< root `description` (required by U-Boot)
    std::optional<std::uint32_t> timestamp;  ///< root `timestamp`, seconds since 1970
    int address_cells = 1;                   ///< 1 or 2: the size of `load`/`entry`
    std::string default_configuration;       ///< /configurations/default; empty for none
    std::vector<image> images;
    std::vector<configuration> configurations;

    /// Throws fitstream::error (errc::invalid_argument) naming the first
    /// problem: a node name U-Boot would reject (empty, a character outside
    /// [A-Za-z0-9,._+-], or `@`, which signature checking refuses), a
    /// duplicate name, a reference to a missing image, a missing default,
    /// an address that does not fit the address cells, or a string with an
    /// embedded NUL.
    void validate() const;
};

namespace detail {

inline void check_node_name(const std::string& name, const std::string& where) {
    if (name.empty()) throw error(errc::invalid_argument, where, "empty node name");
    const std::size_t bad = bad_node_name_char(name);
    if (bad != std::string::npos)
        throw error(errc::invalid_argument, where + "/" + name,
                    name[bad] == '@' ? std::string("node name contains '@', which U-Boot refuses when checking "
                                                   "signatures (CVE-2021-27138)")
                                     : std::string("node name contains a character devicetree does not allow"));
}

inline void check_string(const std::string& value, const std::string& where) {
    if (value.find('\0') != std::string::npos)
        throw error(errc::invalid_argument, where, "string contains a NUL byte");
}

}  // namespace detail

inline void tree::validate() const {
    if (address_cells != 1 && address_cells != 2)
        throw error(errc::invalid_argument, "#address-cells", "must be 1 or 2");
    detail::check_string(description, "/description");
    std::unordered_set<std::string_view> names;
    names.reserve(images.size());
    for (const auto& img : images) {
        const std::string where = "/images/" + img.name;
        detail::check_node_name(img.name, "/images");
        if (!names.insert(img.name).second) throw error(errc::invalid_argument, where, "duplicate image name");
        if (img.type.empty()) throw error(errc::invalid_argument, where, "image has no type");
        for (const auto* s : {&img.type, &img.description, &img.arch, &img.os}) detail::check_string(*s, where);
        for (const auto& addr : {img.load, img.entry}) {
            if (addr && address_cells == 1 && *addr > max_cell_value)
                throw error(errc::invalid_argument, where,
                            "load/entry address needs 64 bits: use two address cells");
        }
    }
    std::unordered_set<std::string_view> conf_names;
    conf_names.reserve(configurations.size());
    for (const auto& conf : configurations) {
        const std::string where = "/configurations/" + conf.name;
        detail::check_node_name(conf.name, "/configurations");
        if (!conf_names.insert(conf.name).second)
            throw error(errc::invalid_argument, where, "duplicate configuration name");
        detail::check_string(conf.description, where);
        for (const auto& c : conf.compatible) {
            detail::check_string(c, where);
            if (c.empty()) throw error(errc::invalid_argument, where, "empty compatible string");
        }
        auto check_ref = [&](const std::string& ref, const char* what) {
            if (!names.count(ref))
                throw error(errc::invalid_argument, where, std::string(what) + " '" + ref + "' is not an image");
        };
        if (!conf.kernel.empty()) check_ref(conf.kernel, "kernel");
        if (!conf.ramdisk.empty()) check_ref(conf.ramdisk, "ramdisk");
        for (const auto& f : conf.fdt) check_ref(f, "fdt");
        for (const auto& l : conf.loadables) check_ref(l, "loadable");
    }
    if (!default_configuration.empty() && !conf_names.count(default_configuration))
        throw error(errc::invalid_argument, "/configurations/default",
                    "'" + default_configuration + "' is not a configuration");
}

}  // namespace fitstream
