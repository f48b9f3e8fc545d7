// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// A FIT to write, held compactly: what a `tree` holds, for a million
/// devicetrees in tens of MiB instead of GiB.
///
/// Images and configurations are added one at a time, as the same
/// `image` and `configuration` values a tree holds, and are then kept as
/// records in a log that stays in memory for its last MiB and goes to an
/// anonymous temporary file before that (paths, descriptions and compatible
/// strings are read back, in order, when the FIT is written). What stays
/// resident per node is its name (configurations refer to images by name,
/// and names must be unique) and a few bytes of index; codecs, hash lists
/// and cipher keys are shared tables. write_fit() on a plan streams the FIT
/// structure out as it produces it, so neither the plan nor the structure
/// is ever held whole; the bytes are those write_fit() writes for the same
/// tree.
///
/// @code
/// fitstream::fit_plan plan;
/// plan.description = "Linux with devicetrees";
/// fitstream::image kernel("kernel", "kernel_noload", fitstream::source::file("Image"));
/// kernel.compress_with<fitstream::codec::gzip>().add_hash<fitstream::hash::sha256>();
/// plan.add(std::move(kernel));
/// ...
/// fitstream::write_fit(plan, "image.fit");
/// @endcode

#include <fitstream/detail/plan/name_table.hpp>
#include <fitstream/detail/plan/record_log.hpp>
#include <fitstream/error.hpp>
#include <fitstream/tree.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fitstream {

class fit_plan {
public:
    std::string description;                 ///< root `description`
    std::optional<std::uint32_t> timestamp;  ///< root `timestamp`
    int address_cells = 1;                   ///< 1 or 2: the size of `load`/`entry`
    std::string default_configuration;       ///< /configurations/default; empty for none

    fit_plan() = default;
    fit_plan(fit_plan&&) noexcept = default;
    fit_plan& operator=(fit_plan&&) noexcept = default;

    /// The plan of a whole tree (the tree is validated first).
    /// @throws fitstream::error as tree::validate()
    explicit fit_plan(const tree& fit) : description(fit.description), timestamp(fit.timestamp),
                                         address_cells(fit.address_cells),
                                         default_configuration(fit.default_configuration) {
        fit.validate();
        for (const auto& img : fit.images) add(img);
        for (const auto& conf : fit.configurations) add(conf);
    }

    /// Adds an image after those added so far; returns its index.
    /// @throws fitstream::error (errc::invalid_argument) as tree::validate()
    ///         would for it: a bad or duplicate name, no type, a NUL in a string
    std::size_t add(const image& img) {
        const std::string where = "/images/" + img.name;
        detail::check_node_name(img.name, "/images");
        if (image_names_.find(img.name) != detail::name_table::npos)
            throw error(errc::invalid_argument, where, "duplicate image name");
        if (img.type.empty()) throw error(errc::invalid_argument, where, "image has no type");
        for (const auto* s : {&img.type, &img.description, &img.arch, &img.os}) detail::check_string(*s, where);
        for (const auto& addr : {img.load, img.entry})
            if (addr && *addr > max_cell_value && wide_address_image_.empty()) wide_address_image_ = where;

        detail::record_builder& r = scratch_;
        r.clear();
        r.string(img.type).string(img.description).string(img.arch).string(img.os);
        r.varint((img.load ? 1u : 0u) | (img.entry ? 2u : 0u));
        if (img.load) r.varint(*img.load);
        if (img.entry) r.varint(*img.entry);
        if (img.data.is_file()) {
            r.varint(img.data.range_length() ? 1 : 0).string(img.data.name());
            if (img.data.range_length()) r.varint(img.data.offset()).varint(*img.data.range_length());
        } else {
            r.varint(2).varint(memory_sources_.size());
            memory_sources_.push_back(img.data);
        }
        r.varint(intern_codec(img.codec()));
        r.varint(intern(hash_lists_, img.hashes(), [](const auto& a, const auto& b) {
            if (a.size() != b.size()) return false;
            for (std::size_t i = 0; i < a.size(); ++i)
                if (a[i].fit_name != b[i].fit_name || a[i].make != b[i].make) return false;
            return true;
        }));
        r.varint(intern_cipher(img.cipher()));
        r.varint(side_table(image_signatures_, img.signatures));
        index_record(image_offsets_, images_, image_names_.size());
        images_.append(r.bytes());
        image_names_.insert(img.name);
        any_segmented_ = any_segmented_ || img.codec().segmented();
        any_signature_ = any_signature_ || !img.signatures.empty();
        return image_names_.size() - 1;
    }

    /// Adds a configuration after those added so far; returns its index.
    /// The images it names may be added later: they are looked up when the
    /// plan is written (see check_references()).
    /// @throws fitstream::error (errc::invalid_argument) as tree::validate()
    std::size_t add(const configuration& conf) {
        const std::string where = "/configurations/" + conf.name;
        detail::check_node_name(conf.name, "/configurations");
        if (configuration_names_.find(conf.name) != detail::name_table::npos)
            throw error(errc::invalid_argument, where, "duplicate configuration name");
        detail::check_string(conf.description, where);
        for (const auto& c : conf.compatible) {
            detail::check_string(c, where);
            if (c.empty()) throw error(errc::invalid_argument, where, "empty compatible string");
        }

        detail::record_builder& r = scratch_;
        r.clear();
        r.string(conf.description);
        write_list(r, conf.compatible);
        r.string(conf.kernel);
        write_list(r, conf.fdt);
        r.string(conf.ramdisk);
        write_list(r, conf.loadables);
        r.varint(side_table(configuration_signatures_, conf.signatures));
        index_record(configuration_offsets_, configurations_, configuration_names_.size());
        configurations_.append(r.bytes());
        configuration_names_.insert(conf.name);
        any_signature_ = any_signature_ || !conf.signatures.empty();
        return configuration_names_.size() - 1;
    }

    std::size_t image_count() const noexcept { return image_names_.size(); }
    std::size_t configuration_count() const noexcept { return configuration_names_.size(); }
    std::string_view image_name(std::size_t i) const noexcept { return image_names_[i]; }
    std::string_view configuration_name(std::size_t i) const noexcept { return configuration_names_[i]; }
    /// The index of the image or configuration of that name; npos when none.
    std::size_t find_image(std::string_view name) const noexcept { return image_names_.find(name); }
    std::size_t find_configuration(std::string_view name) const noexcept { return configuration_names_.find(name); }
    static constexpr std::size_t npos = detail::name_table::npos;

    /// Stores image `index` (already added) compressed with `Codec` instead.
    /// @throws fitstream::error (errc::invalid_argument) for an index past the images
    template <class Codec>
    void compress_image_with(std::size_t index) {
        if (index >= image_count())
            throw error(errc::invalid_argument, "compress_image_with",
                        "no image " + std::to_string(index) + " in a plan of " + std::to_string(image_count()));
        image probe("x", "x", source::memory_view(nullptr, 0, "x"));
        probe.compress_with<Codec>();
        codec_overrides_[index] = intern_codec(probe.codec());
        any_segmented_ = any_segmented_ || probe.codec().segmented();
    }

    /// The path of the first image whose load or entry address needs 64
    /// bits ("/images/NAME"); empty when none does.
    const std::string& wide_address_image() const noexcept { return wide_address_image_; }

    /// Whether any image or configuration has a signature.
    bool has_signatures() const noexcept { return any_signature_; }
    /// Whether any image's codec cuts it into segments.
    bool any_segmented() const noexcept { return any_segmented_; }

    /// Image `index` as added (read back from the log: prefer a cursor to
    /// go through them all).
    image image_at(std::size_t index) const {
        image_cursor c(*this, index);
        return c.next();
    }
    configuration configuration_at(std::size_t index) const {
        configuration_cursor c(*this, index);
        return c.next();
    }

    /// Reads the images back in order, from `first`.
    class image_cursor {
    public:
        explicit image_cursor(const fit_plan& plan, std::size_t first = 0)
            : plan_(&plan), at_(plan.images_, skip_to(plan.images_, plan.image_offsets_, first)),
              index_(first & ~(index_stride - 1)) {
            while (index_ < first) next();
        }
        std::size_t index() const noexcept { return index_; }
        bool done() const noexcept { return index_ >= plan_->image_count(); }
        image next() {
            std::string type = at_.read_string();
            image img(std::string(plan_->image_name(index_)), std::move(type), source::memory_view(nullptr, 0, ""));
            img.description = at_.read_string();
            img.arch = at_.read_string();
            img.os = at_.read_string();
            const std::uint64_t addresses = at_.read_varint();
            if (addresses & 1) img.load = at_.read_varint();
            if (addresses & 2) img.entry = at_.read_varint();
            const std::uint64_t kind = at_.read_varint();
            if (kind == 2) {
                img.data = plan_->memory_sources_[static_cast<std::size_t>(at_.read_varint())];
            } else {
                std::string path = at_.read_string();
                if (kind == 1) {
                    const std::uint64_t offset = at_.read_varint();
                    img.data = source::file_range(std::move(path), offset, at_.read_varint());
                } else {
                    img.data = source::file(std::move(path));
                }
            }
            std::size_t codec = static_cast<std::size_t>(at_.read_varint());
            if (const auto o = plan_->codec_overrides_.find(index_); o != plan_->codec_overrides_.end()) codec = o->second;
            const auto hashes = static_cast<std::size_t>(at_.read_varint());
            const auto cipher = static_cast<std::size_t>(at_.read_varint());
            plan_->restore_payload(img, codec, hashes, cipher);
            if (const auto s = static_cast<std::size_t>(at_.read_varint())) img.signatures = plan_->image_signatures_[s - 1];
            ++index_;
            return img;
        }

    private:
        const fit_plan* plan_;
        detail::record_log::cursor at_;
        std::size_t index_;
    };

    class configuration_cursor {
    public:
        explicit configuration_cursor(const fit_plan& plan, std::size_t first = 0)
            : plan_(&plan),
              at_(plan.configurations_, skip_to(plan.configurations_, plan.configuration_offsets_, first)),
              index_(first & ~(index_stride - 1)) {
            while (index_ < first) next();
        }
        std::size_t index() const noexcept { return index_; }
        bool done() const noexcept { return index_ >= plan_->configuration_count(); }
        configuration next() {
            configuration conf;
            conf.name = std::string(plan_->configuration_name(index_));
            conf.description = at_.read_string();
            read_list(conf.compatible);
            conf.kernel = at_.read_string();
            read_list(conf.fdt);
            conf.ramdisk = at_.read_string();
            read_list(conf.loadables);
            if (const auto s = static_cast<std::size_t>(at_.read_varint()))
                conf.signatures = plan_->configuration_signatures_[s - 1];
            ++index_;
            return conf;
        }

    private:
        void read_list(std::vector<std::string>& out) {
            out.resize(static_cast<std::size_t>(at_.read_varint()));
            for (auto& s : out) s = at_.read_string();
        }
        const fit_plan* plan_;
        detail::record_log::cursor at_;
        std::size_t index_;
    };

    /// The whole tree (for what needs one: signing, an image tree source).
    tree to_tree() const {
        tree fit;
        fit.description = description;
        fit.timestamp = timestamp;
        fit.address_cells = address_cells;
        fit.default_configuration = default_configuration;
        fit.images.reserve(image_count());
        for (image_cursor c(*this); !c.done();) fit.images.push_back(c.next());
        fit.configurations.reserve(configuration_count());
        for (configuration_cursor c(*this); !c.done();) {
            fit.configurations.push_back(c.next());
            check_references(fit.configurations.back());
        }
        return fit;
    }

    /// Throws what tree::validate() would for a configuration naming an
    /// image the plan does not have.
    void check_references(const configuration& conf) const {
        const auto check_ref = [&](const std::string& ref, const char* what) {
            if (find_image(ref) == npos)
                throw error(errc::invalid_argument, "/configurations/" + conf.name,
                            std::string(what) + " '" + ref + "' is not an image");
        };
        if (!conf.kernel.empty()) check_ref(conf.kernel, "kernel");
        if (!conf.ramdisk.empty()) check_ref(conf.ramdisk, "ramdisk");
        for (const auto& f : conf.fdt) check_ref(f, "fdt");
        for (const auto& l : conf.loadables) check_ref(l, "loadable");
    }

    /// Throws what tree::validate() would for the root: bad address cells,
    /// an address that needs two of them, a NUL in the description, a
    /// default that is not a configuration. (Images and configurations are
    /// checked as they are added, their references with check_references()
    /// when the plan is written, and by to_tree().)
    void validate() const {
        if (address_cells != 1 && address_cells != 2)
            throw error(errc::invalid_argument, "#address-cells", "must be 1 or 2");
        detail::check_string(description, "/description");
        if (address_cells == 1 && !wide_address_image_.empty())
            throw error(errc::invalid_argument, wide_address_image_,
                        "load/entry address needs 64 bits: use two address cells");
        if (!default_configuration.empty() && find_configuration(default_configuration) == npos)
            throw error(errc::invalid_argument, "/configurations/default",
                        "'" + default_configuration + "' is not a configuration");
    }

private:
    void restore_payload(image& img, std::size_t codec, std::size_t hashes, std::size_t cipher) const {
        img.codec_ = codecs_[codec];
        img.hashes_ = hash_lists_[hashes];
        img.cipher_ = ciphers_[cipher];
    }

    // Every index_stride-th record's offset is kept; reading record i
    // starts at the one before it.
    static constexpr std::size_t index_stride = 32;

    static void index_record(std::vector<std::uint64_t>& offsets, const detail::record_log& log, std::size_t index) {
        if (index % index_stride == 0) offsets.push_back(log.size());
    }
    static std::uint64_t skip_to(const detail::record_log& log, const std::vector<std::uint64_t>& offsets,
                                 std::size_t first) {
        const std::size_t slot = first / index_stride;
        return slot < offsets.size() ? offsets[slot] : log.size();
    }

    // Codecs and cipher keys by identity: images share one object, or each
    // has its own (compress_with(options), encrypt_with(spec)); either way
    // adding an image looks one up in constant time.
    std::size_t intern_codec(const detail::codec_binding& codec) {
        const auto [at, added] = codec_index_.try_emplace(codec.codec.get(), codecs_.size());
        if (added) codecs_.push_back(codec);
        return at->second;
    }
    std::size_t intern_cipher(const std::shared_ptr<const cipher_key>& key) {
        if (!key) return 0;
        const auto [at, added] = cipher_index_.try_emplace(key.get(), ciphers_.size());
        if (added) ciphers_.push_back(key);
        return at->second;
    }

    // Hash lists by value: a few distinct ones, however many images.
    template <class T, class Equal>
    static std::size_t intern(std::vector<T>& table, const T& value, Equal equal) {
        for (std::size_t i = 0; i < table.size(); ++i)
            if (equal(table[i], value)) return i;
        table.push_back(value);
        return table.size() - 1;
    }
    // 0: none; else 1 + its index in `table`.
    static std::size_t side_table(std::vector<std::vector<signature_spec>>& table,
                                  const std::vector<signature_spec>& specs) {
        if (specs.empty()) return 0;
        table.push_back(specs);
        return table.size();
    }
    static void write_list(detail::record_builder& r, const std::vector<std::string>& list) {
        r.varint(list.size());
        for (const auto& s : list) r.string(s);
    }

    detail::record_log images_, configurations_;
    std::vector<std::uint64_t> image_offsets_, configuration_offsets_;
    detail::name_table image_names_, configuration_names_;
    std::vector<detail::codec_binding> codecs_;
    std::unordered_map<const void*, std::size_t> codec_index_;   // codecs_ by codec object
    std::unordered_map<const void*, std::size_t> cipher_index_;  // ciphers_ by key object
    std::vector<std::vector<detail::hash_binding>> hash_lists_;
    std::vector<std::shared_ptr<const cipher_key>> ciphers_{nullptr};  // 0: none
    std::vector<source> memory_sources_;
    std::vector<std::vector<signature_spec>> image_signatures_, configuration_signatures_;
    std::map<std::size_t, std::size_t> codec_overrides_;  // image index -> codecs_ index
    std::string wide_address_image_;  // the first image whose load or entry needs 64 bits
    bool any_segmented_ = false;
    bool any_signature_ = false;
    detail::record_builder scratch_;
};

}  // namespace fitstream
