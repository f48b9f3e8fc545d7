// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// A builder a build tool drives directly, without file-name conventions:
/// add a kernel, devicetrees (from files or memory), overlays, loadables
/// and explicit configurations, each with its codec chosen at compile time,
/// then write to a path, a descriptor, or any sink.
///
/// @code
/// fitstream::fit_builder fit("Linux 6.12");
/// fit.arch("arm64").timestamp(0);
/// fit.add_kernel<fitstream::codec::gzip>(fitstream::source::file("Image"));
/// fit.add_fdt(fitstream::source::file("board.dtb"));            // fdt-1 and conf-1
/// auto ov = fit.add_overlay(fitstream::source::file("uart.dtbo"));
/// fit.add_configuration("board-uart", "fdt-1", {ov});
/// fit.hash_every_image<fitstream::hash::sha256>();
/// fit.write("image.fit");
/// @endcode
///
/// The references add_kernel(), add_ramdisk(), add_loadable() and
/// add_configuration() return stay valid for the builder's life, however
/// many images are added after them (and across a move of the builder):
/// images and configurations live in deques, whose elements never move.

#include <fitstream/codec/none.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/input/dtb.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/writer.hpp>

#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {

/// Builds a tree image by image; see the file comment. Configurations made
/// by add_fdt() and add_configuration() boot the kernel, ramdisk and
/// loadables that the builder holds when the tree is taken.
class fit_builder {
public:
    /// @param name the kernel's name; the root description is "<name> with devicetree set"
    explicit fit_builder(std::string name) : name_(std::move(name)) {
        tree_.description = name_ + " with devicetree set";
    }

    /// The `arch` every image added afterwards carries.
    fit_builder& arch(std::string value) {
        arch_ = std::move(value);
        return *this;
    }
    /// The `os` of kernels, ramdisks and loadables added afterwards.
    fit_builder& os(std::string value) {
        os_ = std::move(value);
        return *this;
    }
    fit_builder& timestamp(std::uint32_t seconds) {
        tree_.timestamp = seconds;
        return *this;
    }
    /// /configurations/default (default: the first configuration).
    fit_builder& default_configuration(std::string name) {
        tree_.default_configuration = std::move(name);
        return *this;
    }

    /// Adds /images/kernel: `kernel_noload` at 0, as make_fit.py writes it;
    /// set `load`/`entry` and `type = "kernel"` on the result to load it.
    template <class Codec = codec::none>
    image& add_kernel(source data, typename Codec::options options = {}) {
        image& img = add_image<Codec>("kernel", "kernel_noload", std::move(data), options, name_);
        img.os = os_;
        img.load = 0;
        img.entry = 0;
        return img;
    }

    /// Adds /images/ramdisk.
    template <class Codec = codec::none>
    image& add_ramdisk(source data, typename Codec::options options = {}) {
        image& img = add_image<Codec>("ramdisk", "ramdisk", std::move(data), options, "Ramdisk");
        img.os = os_;
        return img;
    }

    /// Adds a devicetree as fdt-N and a configuration conf-M for it, whose
    /// description and compatible come from the DTB (checked with
    /// fdt_check_full). Returns the configuration's name.
    /// @throws fitstream::error for an invalid DTB, naming it.
    template <class Codec = codec::none>
    std::string add_fdt(source dtb, typename Codec::options options = {}) {
        const dtb_info info = dtb.is_file() ? inspect_dtb_file(dtb.name())
                                            : inspect_dtb(dtb.data(), dtb.memory_size(), dtb.name());
        const std::string fdt_name = add_overlay<Codec>(std::move(dtb), options);
        configuration& conf = add_configuration("conf-" + std::to_string(configurations_.size() + 1), fdt_name);
        conf.description = info.model ? *info.model : images_.back().description;
        conf.compatible = info.compatible;
        return conf.name;
    }

    /// Adds a devicetree or overlay as fdt-N without a configuration of its
    /// own. Returns the image name, for add_configuration().
    template <class Codec = codec::none>
    std::string add_overlay(source dtb, typename Codec::options options = {}) {
        const std::string file = detail::base_name(dtb.name());
        return add_image<Codec>("fdt-" + std::to_string(++fdt_count_), "flat_dt", std::move(dtb), options, file).name;
    }

    /// Adds an image every configuration lists in `loadables`
    /// (firmware, TEE or ATF blobs); set load/entry on the result.
    template <class Codec = codec::none>
    image& add_loadable(std::string name, std::string type, source data, typename Codec::options options = {}) {
        image& img = add_image<Codec>(name, std::move(type), std::move(data), options, name);
        img.os = os_;
        loadables_.push_back(std::move(name));
        return img;
    }

    /// Adds a configuration applying `overlays` (image names) to `base`.
    configuration& add_configuration(std::string name, std::string base, std::vector<std::string> overlays = {}) {
        configuration& conf = configurations_.emplace_back();
        conf.name = std::move(name);
        conf.description = conf.name;
        conf.fdt.push_back(std::move(base));
        for (auto& o : overlays) conf.fdt.push_back(std::move(o));
        return conf;
    }

    /// Adds a `Hash` node to every image, those added before and after.
    template <class Hash>
    fit_builder& hash_every_image() {
        hashes_.push_back([](image& img) { img.add_hash<Hash>(); });
        for (auto& img : images_) img.add_hash<Hash>();
        return *this;
    }

    /// The tree as built, with every configuration booting the kernel,
    /// ramdisk and loadables present. Not validated here: write_fit() does
    /// (tree::validate()).
    tree build() const {
        tree out = tree_;
        out.images.assign(images_.begin(), images_.end());
        out.configurations.assign(configurations_.begin(), configurations_.end());
        // Looked up once, not per configuration: linear in the tree's size.
        bool has_kernel = false, has_ramdisk = false;
        for (const auto& img : out.images) {
            has_kernel = has_kernel || img.name == "kernel";
            has_ramdisk = has_ramdisk || img.name == "ramdisk";
        }
        for (auto& conf : out.configurations) {
            if (conf.kernel.empty() && has_kernel) conf.kernel = "kernel";
            if (conf.ramdisk.empty() && has_ramdisk) conf.ramdisk = "ramdisk";
            if (conf.loadables.empty()) conf.loadables = loadables_;
        }
        if (out.default_configuration.empty() && !out.configurations.empty())
            out.default_configuration = out.configurations.front().name;
        return out;
    }

    /// Writes the FIT atomically to `path`: write_fit(build(), path, options).
    /// @throws fitstream::error as write_fit()
    write_result write(const std::string& path, const write_options& options = {}) const {
        return write_fit(build(), path, options);
    }
    /// Writes the FIT to any sink: fd_sink, iostreams_sink, a custom one.
    /// @throws fitstream::error as write_fit()
    write_result write(sink& out, const write_options& options = {}) const { return write_fit(build(), out, options); }

private:
    template <class Codec>
    image& add_image(std::string name, std::string type, source data, const typename Codec::options& options,
                     std::string description) {
        image& img = images_.emplace_back(std::move(name), std::move(type), std::move(data));
        img.description = std::move(description);
        img.arch = arch_;
        img.compress_with<Codec>(options);
        for (const auto& add : hashes_) add(img);
        return img;
    }

    std::string name_;
    std::string arch_;
    std::string os_ = "linux";
    tree tree_;  // description, timestamp, default; no images or configurations
    std::deque<image> images_;                   // deques: the references handed out stay valid
    std::deque<configuration> configurations_;
    std::vector<std::string> loadables_;
    std::vector<void (*)(image&)> hashes_;
    int fdt_count_ = 0;
};

}  // namespace fitstream
