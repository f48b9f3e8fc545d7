// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The read side: open a FIT, walk its images and configurations, find each
/// payload (embedded `data`, `data-offset` or `data-position`), stream it
/// stored or decoded, and verify the whole file.
///
/// The file is memory-mapped, never read whole; payloads are decoded in
/// fixed-size chunks. Nothing in the file is trusted: every offset and size
/// is checked against the file before it is used, and decoding stops at a
/// configurable size so a small file cannot expand without bound.
///
/// @code
/// fitstream::reader fit("image.fit");
/// for (const auto& p : fit.verify()) std::cerr << p.subject << ": " << p.message << '\n';
/// @endcode

#include <fitstream/codecs.hpp>
#include <fitstream/detail/libfdt.hpp>
#include <fitstream/detail/mapped_file.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hashes.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace fitstream {

/// Where an image's stored bytes are.
enum class data_location {
    missing,   ///< no data, data-offset or data-position property
    embedded,  ///< a `data` property inside the structure
    offset,    ///< `data-offset`, counted from ALIGN(totalsize, 4)
    position,  ///< `data-position`, an absolute file offset
};

/// One `hash-N` node of an image.
struct hash_info {
    std::string node;                 ///< "hash-1"
    std::string algo;                 ///< FIT algo name
    std::vector<std::uint8_t> value;  ///< stored digest
};

/// One node under /images, as found in the file.
struct image_info {
    std::string name;
    std::string description;
    std::string type;
    std::string arch;
    std::string os;
    std::string compression;  ///< "none" when absent
    std::optional<std::uint64_t> load;
    std::optional<std::uint64_t> entry;
    data_location location = data_location::missing;
    std::uint64_t offset = 0;  ///< absolute file offset of the stored bytes
    std::uint64_t size = 0;    ///< stored size
    /// Why the stored bytes cannot be used (outside the file, bad cell
    /// size, ...); empty when they can.
    std::string data_problem;
    std::vector<hash_info> hashes;
};

/// One node under /configurations.
struct configuration_info {
    std::string name;
    std::string description;
    std::vector<std::string> compatible;
    std::string kernel;
    std::vector<std::string> fdt;
    std::string ramdisk;
    std::vector<std::string> loadables;
    /// Every property naming images (kernel, fdt, ramdisk, loadables,
    /// firmware, fpga, ...) with each name it lists, for reference checks.
    std::vector<std::pair<std::string, std::string>> references;
};

/// One thing wrong with a FIT.
struct problem {
    enum class severity { error, warning };
    severity level = severity::error;
    std::string subject;  ///< a node path ("/images/kernel") or the file
    std::string message;
};

/// What verify() checks and how far it goes.
struct verify_options {
    /// Decoding stops with an error past this many bytes per image.
    std::uint64_t max_decoded_size = 1ull << 30;
    /// Decode every image (not only devicetrees) to prove its stream is whole.
    bool decode_all = true;
};

/// A FIT opened for reading. See the file comment.
class reader {
public:
    /// Opens and indexes `path`.
    /// @throws fitstream::error when the file cannot be read, or its
    ///         structure is not a valid devicetree (fdt_check_full) — the
    ///         rest of what can be wrong is reported by verify().
    explicit reader(std::string path) : path_(std::move(path)), file_(path_) { index(); }

    /// Reads a FIT held in memory (copied, so `data` need not stay alive or
    /// be aligned); `name` stands for the file in messages.
    reader(const void* data, std::size_t size, std::string name) : path_(std::move(name)), file_(data, size) {
        index();
    }

    const std::string& path() const noexcept { return path_; }
    std::uint64_t file_size() const noexcept { return file_.size(); }
    /// The FDT header's totalsize: the structure, with embedded data.
    std::uint32_t structure_size() const noexcept { return fdt_totalsize(fdt()); }
    const std::string& description() const noexcept { return description_; }
    std::optional<std::uint32_t> timestamp() const noexcept { return timestamp_; }
    const std::vector<image_info>& images() const noexcept { return images_; }
    const std::vector<configuration_info>& configurations() const noexcept { return configurations_; }
    /// /configurations/default, or empty.
    const std::string& default_configuration() const noexcept { return default_; }

    /// The image called `name`, or nullptr.
    const image_info* find_image(const std::string& name) const {
        const auto it = image_index_.find(name);
        return it == image_index_.end() ? nullptr : &images_[it->second];
    }

    /// Calls `sink(data, size)` with the image's stored bytes, in pieces.
    /// @throws fitstream::error (errc::bad_image) when they are not usable.
    void read_stored(const image_info& img, const std::function<void(const char*, std::size_t)>& sink) const {
        require_data(img);
        const char* p = file_.data() + img.offset;
        for (std::uint64_t done = 0; done < img.size;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(img.size - done, 1u << 20));
            sink(p + done, n);
            done += n;
        }
    }

    /// Calls `sink(data, size)` with the image's decoded bytes, in pieces,
    /// and returns how many there were.
    /// @throws fitstream::error: the codec's error on corrupt data,
    ///         errc::unsupported for an unknown compression, errc::bad_image
    ///         past `max_decoded_size` or when the stored bytes are unusable.
    std::uint64_t read_decoded(const image_info& img, const std::function<void(const char*, std::size_t)>& sink,
                               std::uint64_t max_decoded_size = 1ull << 30) const {
        require_data(img);
        std::uint64_t total = 0;
        const std::string subject = "/images/" + img.name;
        visit_codec(img.compression, [&](auto tag) {
            using codec = typename decltype(tag)::type;
            typename codec::decoder decoder;
            std::vector<char> out(1u << 20);
            const char* in = file_.data() + img.offset;
            const char* const in_end = in + img.size;
            for (;;) {
                // At most 1 MiB of input a step, so pages already decoded can
                // be dropped again.
                const char* step_end = in_end - in > (1 << 20) ? in + (1 << 20) : in_end;
                const char* const before = in;
                char* o = out.data();
                bool more;
                try {
                    more = decoder.filter(in, step_end, o, out.data() + out.size(), step_end == in_end);
                } catch (const error& e) {
                    throw error(e.code(), subject, img.compression + " data: " + e.reason());
                }
                const auto produced = static_cast<std::size_t>(o - out.data());
                if (produced > max_decoded_size - total)
                    throw error(errc::bad_image, subject,
                                "decodes to more than " + std::to_string(max_decoded_size) + " bytes");
                total += produced;
                if (produced) sink(out.data(), produced);
                if (!more) break;
                // A decoder that neither reads nor writes at the end of its
                // input is waiting for bytes the image does not have.
                if (in == before && produced == 0 && in == in_end)
                    throw error(errc::bad_image, subject, img.compression + " data is truncated");
            }
        });
        return total;
    }

    /// Checks everything U-Boot relies on and returns one entry per problem
    /// (empty when the FIT is sound). See verify_options for what it decodes.
    std::vector<problem> verify(const verify_options& options = {}) const;

private:
    const void* fdt() const noexcept { return file_.data(); }

    void require_data(const image_info& img) const {
        if (img.location == data_location::missing)
            throw error(errc::bad_image, "/images/" + img.name, "image has no data");
        if (!img.data_problem.empty()) throw error(errc::bad_image, "/images/" + img.name, img.data_problem);
    }

    std::string get_string(int node, const char* name) const {
        int len = 0;
        const auto* p = static_cast<const char*>(fdt_getprop(fdt(), node, name, &len));
        if (!p || len <= 0) return {};
        return std::string(p, strnlen(p, static_cast<std::size_t>(len)));
    }

    std::vector<std::string> get_strings(int node, const char* name) const {
        std::vector<std::string> out;
        int len = 0;
        const auto* p = static_cast<const char*>(fdt_getprop(fdt(), node, name, &len));
        for (int pos = 0; p && pos < len;) {
            const std::size_t n = strnlen(p + pos, static_cast<std::size_t>(len - pos));
            out.emplace_back(p + pos, n);
            pos += static_cast<int>(n) + 1;
        }
        return out;
    }

    /// A property of one or two cells; nullopt when absent or another size.
    std::optional<std::uint64_t> get_cells(int node, const char* name, int* bad_len = nullptr) const {
        int len = 0;
        const auto* p = static_cast<const unsigned char*>(fdt_getprop(fdt(), node, name, &len));
        if (!p) return std::nullopt;
        if (len != 4 && len != 8) {
            if (bad_len) *bad_len = len;
            return std::nullopt;
        }
        std::uint64_t v = 0;
        for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
        return v;
    }

    void index();
    void index_image(int node);
    void index_configuration(int node);

    std::string path_;
    detail::mapped_file file_;
    std::string description_;
    std::optional<std::uint32_t> timestamp_;
    std::vector<image_info> images_;
    std::unordered_map<std::string, std::size_t> image_index_;
    std::vector<configuration_info> configurations_;
    std::string default_;
};

inline void reader::index() {
    if (file_.size() < sizeof(fdt_header)) throw error(errc::bad_image, path_, "too short to be a FIT");
    if (fdt_magic(fdt()) != FDT_MAGIC) throw error(errc::bad_image, path_, "not a FIT (no devicetree magic)");
    if (fdt_totalsize(fdt()) > file_.size())
        throw error(errc::bad_image, path_,
                    "truncated: the structure needs " + std::to_string(fdt_totalsize(fdt())) + " bytes, the file has " +
                        std::to_string(file_.size()));
    const int rc = fdt_check_full(fdt(), fdt_totalsize(fdt()));
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), path_, "invalid FIT structure");

    description_ = get_string(0, "description");
    if (const auto t = get_cells(0, "timestamp")) timestamp_ = static_cast<std::uint32_t>(*t);

    const int images = fdt_subnode_offset(fdt(), 0, "images");
    if (images >= 0) {
        int node;
        fdt_for_each_subnode(node, fdt(), images) index_image(node);
    }
    const int confs = fdt_subnode_offset(fdt(), 0, "configurations");
    if (confs >= 0) {
        default_ = get_string(confs, "default");
        int node;
        fdt_for_each_subnode(node, fdt(), confs) index_configuration(node);
    }
}

inline void reader::index_image(int node) {
    image_info img;
    int len = 0;
    const char* name = fdt_get_name(fdt(), node, &len);
    img.name = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
    img.description = get_string(node, "description");
    img.type = get_string(node, "type");
    img.arch = get_string(node, "arch");
    img.os = get_string(node, "os");
    img.compression = get_string(node, "compression");
    if (img.compression.empty()) img.compression = "none";
    img.load = get_cells(node, "load");
    img.entry = get_cells(node, "entry");

    const std::uint64_t file_size = file_.size();
    const auto* data = static_cast<const char*>(fdt_getprop(fdt(), node, "data", &len));
    if (data) {
        img.location = data_location::embedded;
        img.offset = static_cast<std::uint64_t>(data - file_.data());
        img.size = static_cast<std::uint64_t>(len);
    } else {
        int bad = -1;
        const auto size = get_cells(node, "data-size", &bad);
        const auto pos = get_cells(node, "data-position", &bad);
        const auto off = pos ? std::nullopt : get_cells(node, "data-offset", &bad);
        if (pos || off) {
            img.location = pos ? data_location::position : data_location::offset;
            const std::uint64_t base = pos ? 0 : align_up(fdt_totalsize(fdt()), 4);
            img.offset = base + (pos ? *pos : *off);
            if (!size) {
                img.data_problem = "external data without a usable data-size";
            } else {
                img.size = *size;
                if (*size > max_cell_value || (pos ? *pos : *off) > max_cell_value)
                    img.data_problem = "data size or offset does not fit a 32-bit cell";
                else if (img.offset > file_size || img.size > file_size - img.offset)
                    img.data_problem = "data lies outside the file (bytes " + std::to_string(img.offset) + ".." +
                                       std::to_string(img.offset + img.size) + " of a " + std::to_string(file_size) +
                                       "-byte file)";
            }
        } else if (bad >= 0) {
            img.location = data_location::offset;
            img.data_problem = "data-offset, data-position or data-size is " + std::to_string(bad) +
                               " bytes long, not one cell";
        }
    }

    int sub;
    fdt_for_each_subnode(sub, fdt(), node) {
        const char* sub_name = fdt_get_name(fdt(), sub, &len);
        const std::string hash_node = sub_name ? std::string(sub_name, static_cast<std::size_t>(len)) : std::string();
        if (hash_node.compare(0, 4, "hash") != 0) continue;
        hash_info h;
        h.node = hash_node;
        h.algo = get_string(sub, "algo");
        const auto* value = static_cast<const std::uint8_t*>(fdt_getprop(fdt(), sub, "value", &len));
        if (value && len > 0) h.value.assign(value, value + len);
        img.hashes.push_back(std::move(h));
    }
    image_index_.emplace(img.name, images_.size());
    images_.push_back(std::move(img));
}

inline void reader::index_configuration(int node) {
    configuration_info conf;
    int len = 0;
    const char* name = fdt_get_name(fdt(), node, &len);
    conf.name = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
    conf.description = get_string(node, "description");
    conf.compatible = get_strings(node, "compatible");
    conf.kernel = get_string(node, "kernel");
    conf.fdt = get_strings(node, "fdt");
    conf.ramdisk = get_string(node, "ramdisk");
    conf.loadables = get_strings(node, "loadables");
    // Every property U-Boot resolves to an image node.
    for (const char* prop : {"kernel", "fdt", "ramdisk", "loadables", "firmware", "fpga", "setup", "standalone"})
        for (auto& ref : get_strings(node, prop)) conf.references.emplace_back(prop, std::move(ref));
    configurations_.push_back(std::move(conf));
}

namespace detail {

/// Walks every node of `fdt`, calling `visit(path, name)`.
inline void for_each_node(const void* fdt, const std::function<void(const std::string&, const std::string&)>& visit) {
    std::vector<std::string> stack;
    int depth = 0;
    for (int node = 0; node >= 0; node = fdt_next_node(fdt, node, &depth)) {
        if (depth < 0) break;
        int len = 0;
        const char* name = fdt_get_name(fdt, node, &len);
        stack.resize(static_cast<std::size_t>(depth));
        const std::string own = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
        std::string path;
        for (std::size_t i = 1; i < stack.size(); ++i) path += "/" + stack[i];  // stack[0] is the root, ""
        visit(depth == 0 ? std::string("/") : path + "/" + own, own);
        stack.push_back(own);
    }
}

inline std::string hex(const std::vector<std::uint8_t>& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (const auto b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

}  // namespace detail

inline std::vector<problem> reader::verify(const verify_options& options) const {
    std::vector<problem> problems;
    const auto report = [&](std::string subject, std::string message,
                            problem::severity level = problem::severity::error) {
        problems.push_back({level, std::move(subject), std::move(message)});
    };

    if (description_.empty()) report("/", "no description (U-Boot requires one)");
    detail::for_each_node(fdt(), [&](const std::string& path, const std::string& name) {
        if (name.find('@') != std::string::npos)
            report(path, "node name contains '@', which U-Boot refuses when checking signatures (CVE-2021-27138)");
    });
    if (fdt_subnode_offset(fdt(), 0, "images") < 0) report("/images", "missing");

    struct extent {
        std::uint64_t begin, end;
        const image_info* img;
    };
    std::vector<extent> extents;
    const std::uint64_t structure_end = fdt_totalsize(fdt());

    for (const auto& img : images_) {
        const std::string subject = "/images/" + img.name;
        if (img.description.empty()) report(subject, "no description (U-Boot requires one)");
        if (img.type.empty()) report(subject, "no type");
        if (!is_codec_name(img.compression)) report(subject, "unknown compression '" + img.compression + "'");
        if (img.location == data_location::missing) {
            report(subject, "no data, data-offset or data-position");
            continue;
        }
        if (!img.data_problem.empty()) {
            report(subject, img.data_problem);
            continue;
        }
        if (img.location != data_location::embedded) {
            if (img.offset < structure_end && img.size > 0)
                report(subject, "external data overlaps the FIT structure");
            extents.push_back({img.offset, img.offset + img.size, &img});
        }

        // Hashes over the stored bytes, all algorithms in one pass.
        std::vector<std::pair<const hash_info*, std::unique_ptr<detail::hasher_interface>>> hashers;
        for (const auto& h : img.hashes) {
            std::unique_ptr<detail::hasher_interface> hasher;
            std::size_t digest_size = 0;
            try {
                visit_hash(h.algo, [&](auto tag) {
                    using hash = typename decltype(tag)::type;
                    hasher = detail::make_hasher<hash>();
                    digest_size = hash::digest_size;
                });
            } catch (const error&) {
                report(subject + "/" + h.node, "hash algo '" + h.algo + "' is not one fitstream can check",
                       problem::severity::warning);
                continue;
            }
            if (h.value.size() != digest_size) {
                report(subject + "/" + h.node, "value is " + std::to_string(h.value.size()) + " bytes, " + h.algo +
                                                   " needs " + std::to_string(digest_size));
                continue;
            }
            hashers.emplace_back(&h, std::move(hasher));
        }
        if (!hashers.empty()) {
            read_stored(img, [&](const char* p, std::size_t n) {
                for (auto& h : hashers) h.second->update(p, n);
            });
            for (auto& [h, hasher] : hashers) {
                std::vector<std::uint8_t> digest(h->value.size());
                hasher->final(digest.data());
                if (digest != h->value)
                    report(subject + "/" + h->node, h->algo + " mismatch: stored " + detail::hex(h->value) +
                                                        ", data gives " + detail::hex(digest));
            }
        }

        const bool is_fdt = img.type == "flat_dt";
        if (!is_fdt && !options.decode_all) continue;
        if (!is_codec_name(img.compression)) continue;
        try {
            std::vector<char> decoded;
            read_decoded(
                img,
                [&](const char* p, std::size_t n) {
                    if (is_fdt) decoded.insert(decoded.end(), p, p + n);
                },
                is_fdt ? std::min<std::uint64_t>(options.max_decoded_size, max_embedded_size)
                       : options.max_decoded_size);
            if (is_fdt) {
                std::vector<std::uint64_t> aligned((decoded.size() + 7) / 8);
                if (!decoded.empty()) std::memcpy(aligned.data(), decoded.data(), decoded.size());
                const int rc = decoded.size() < sizeof(fdt_header)
                                   ? -FDT_ERR_TRUNCATED
                                   : fdt_check_full(aligned.data(), decoded.size());
                if (rc < 0) report(subject, std::string("devicetree does not decode to a valid DTB: ") + fdt_strerror(rc));
            }
        } catch (const error& e) {
            report(subject, e.reason());
        }
    }

    std::sort(extents.begin(), extents.end(), [](const extent& a, const extent& b) { return a.begin < b.begin; });
    for (std::size_t i = 1; i < extents.size(); ++i) {
        if (extents[i].begin < extents[i - 1].end && extents[i].begin != extents[i].end)
            report("/images/" + extents[i].img->name, "data overlaps the data of /images/" + extents[i - 1].img->name);
    }

    if (fdt_subnode_offset(fdt(), 0, "configurations") < 0) report("/configurations", "missing");
    std::unordered_map<std::string, int> conf_names;
    for (const auto& conf : configurations_) {
        conf_names[conf.name] = 1;
        const std::string subject = "/configurations/" + conf.name;
        for (const auto& [prop, ref] : conf.references)
            if (!find_image(ref)) report(subject, prop + " '" + ref + "' names no image");
    }
    if (!default_.empty() && !conf_names.count(default_))
        report("/configurations", "default '" + default_ + "' names no configuration");
    return problems;
}

}  // namespace fitstream
