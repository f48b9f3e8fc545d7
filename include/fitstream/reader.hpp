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
/// configurable size so a small file cannot expand without bound. Where a
/// payload is, is decided as U-Boot decides it, so the bytes listed, hashed
/// and extracted here are the bytes U-Boot would load. The work a hostile
/// file can cause grows with its size, never faster: no two usable payloads
/// share a byte, each hash algorithm runs once per payload, and verify()
/// stops after verify_options::max_problems problems.
///
/// @code
/// fitstream::reader fit("image.fit");
/// for (const auto& p : fit.verify()) std::cerr << p.subject << ": " << p.message << '\n';
/// @endcode

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/io/mapped_file.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
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
    /// Where the stored bytes are, looked up in U-Boot's order
    /// (fit_image_get_data_and_size): data-position, then data-offset, then
    /// data. An image with both `data` and an external property is read as
    /// U-Boot reads it, from the external one (verify() reports it).
    data_location location = data_location::missing;
    std::uint64_t offset = 0;  ///< absolute file offset of the stored bytes
    std::uint64_t size = 0;    ///< stored size
    /// Why the stored bytes cannot be used (outside the file, not one cell,
    /// overlapping the structure or another image's data, ...); empty when
    /// they can. Usable stored bytes never overlap each other.
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
    /// verify() stops checking after this many problems and says so in one
    /// more; a hostile file can otherwise make the list as long as it likes.
    std::size_t max_problems = 1000;
};

/// Node names nested deeper than this below the root are not checked by
/// verify() (a FIT needs 3: /images/kernel/hash-1); a tree that goes deeper
/// is reported instead.
inline constexpr int max_checked_depth = 64;

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
    /// The whole file as mapped (8-byte aligned): the FDT starts here.
    const void* blob() const noexcept { return file_.data(); }
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
    /// (empty when the FIT is sound): the structure, where each payload is
    /// (inside the file, one cell per external property, not overlapping
    /// the structure or another payload, not both embedded and external),
    /// every hash, every stream decoded whole and every fdt a valid DTB,
    /// string properties NUL-terminated, no '@' in node names, no two images
    /// or configurations of one name, every configuration reference and the
    /// default resolving, no name listed twice in one reference property.
    /// See verify_options for what it decodes and how many problems it lists.
    std::vector<problem> verify(const verify_options& options = {}) const;

private:
    const void* fdt() const noexcept { return file_.data(); }

    void require_data(const image_info& img) const {
        if (img.location == data_location::missing)
            throw error(errc::bad_image, "/images/" + img.name, "image has no data");
        if (!img.data_problem.empty()) throw error(errc::bad_image, "/images/" + img.name, img.data_problem);
    }

    // A string property (the first string of a list). One that does not end
    // in NUL is reported against `subject`: libfdt's string-list functions,
    // which U-Boot uses for configuration references, refuse it.
    std::string get_string(int node, const char* name, const std::string& subject) {
        const auto all = get_strings(node, name, subject);
        return all.empty() ? std::string() : all.front();
    }

    std::vector<std::string> get_strings(int node, const char* name, const std::string& subject) {
        std::vector<std::string> out;
        int len = 0;
        const auto* p = static_cast<const char*>(fdt_getprop(fdt(), node, name, &len));
        if (!p) return out;
        if (len <= 0 || p[len - 1] != '\0')
            note(subject, std::string(name) + " is not a NUL-terminated string");
        for (int pos = 0; pos < len;) {
            const std::size_t n = strnlen(p + pos, static_cast<std::size_t>(len - pos));
            out.emplace_back(p + pos, n);
            pos += static_cast<int>(n) + 1;
        }
        return out;
    }

    /// A property of one or two cells; nullopt when absent or another size.
    std::optional<std::uint64_t> get_cells(int node, const char* name) const {
        int len = 0;
        const auto* p = static_cast<const unsigned char*>(fdt_getprop(fdt(), node, name, &len));
        if (!p || (len != 4 && len != 8)) return std::nullopt;
        std::uint64_t v = 0;
        for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
        return v;
    }

    // A problem found while indexing, reported first by verify().
    void note(const std::string& subject, std::string message,
              problem::severity level = problem::severity::error) {
        index_problems_.push_back({level, subject, std::move(message)});
    }

    void index();
    void index_image(int node);
    void index_configuration(int node);
    void index_data(int node, image_info& img);
    void check_overlaps();

    std::string path_;
    detail::mapped_file file_;
    std::string description_;
    std::optional<std::uint32_t> timestamp_;
    std::vector<image_info> images_;
    std::unordered_map<std::string, std::size_t> image_index_;
    std::vector<configuration_info> configurations_;
    std::unordered_map<std::string, std::size_t> configuration_index_;
    std::string default_;
    std::vector<problem> index_problems_;
};

namespace detail {

/// A node name as it appears in problem subjects: names past 256 bytes are
/// cut, so that a long name repeated in many subjects stays cheap.
inline std::string shown_name(const std::string& name) {
    if (name.size() <= 256) return name;
    return name.substr(0, 200) + "...(" + std::to_string(name.size()) + " bytes)";
}

}  // namespace detail

inline void reader::index() {
    if (file_.size() < sizeof(fdt_header)) throw error(errc::bad_image, path_, "too short to be a FIT");
    if (fdt_magic(fdt()) != FDT_MAGIC) throw error(errc::bad_image, path_, "not a FIT (no devicetree magic)");
    if (fdt_totalsize(fdt()) > file_.size())
        throw error(errc::bad_image, path_,
                    "truncated: the structure needs " + std::to_string(fdt_totalsize(fdt())) + " bytes, the file has " +
                        std::to_string(file_.size()));
    if (fdt_version(fdt()) < detail::min_fdt_version)
        throw error(std::error_code(-FDT_ERR_BADVERSION, libfdt_category()), path_,
                    "devicetree version " + std::to_string(fdt_version(fdt())) + " is older than " +
                        std::to_string(detail::min_fdt_version) + ", which fitstream does not read");
    const int rc = detail::check_fdt(fdt(), fdt_totalsize(fdt()));
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), path_, "invalid FIT structure");

    description_ = get_string(0, "description", "/");
    if (const auto t = get_cells(0, "timestamp")) timestamp_ = static_cast<std::uint32_t>(*t);

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
    if (img.compression.empty()) img.compression = "none";
    img.load = get_cells(node, "load");
    img.entry = get_cells(node, "entry");
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
        const auto* p = static_cast<const unsigned char*>(fdt_getprop(fdt(), node, name, &len));
        if (!p) {
            img.data_problem = std::string(prop) + " without data-size";
            return std::nullopt;
        }
        if (len != 4) {
            img.data_problem = std::string(name) + " is " + std::to_string(len) + " bytes long, not one 32-bit cell";
            return std::nullopt;
        }
        return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
               static_cast<std::uint32_t>(p[2]) << 8 | p[3];
    };
    const auto where = one_cell(prop);
    if (!where) return;
    const auto size = one_cell("data-size");
    if (!size) return;

    const std::uint64_t structure_end = fdt_totalsize(fdt());
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

namespace detail {

/// Walks the nodes of `fdt` down to `max_depth` levels below the root,
/// calling `visit(path, name)`; returns true when deeper nodes were skipped.
/// The path is built once per node from its parent's, so the walk is linear
/// in the size of the tree however deep it goes.
inline bool for_each_node(const void* fdt, int max_depth,
                          const std::function<void(const std::string&, const std::string&)>& visit) {
    std::string path;               // of the node being visited
    std::vector<std::size_t> ends;  // ends[d]: path length of the current node at depth d
    bool skipped = false;
    int depth = 0;
    for (int node = 0; node >= 0; node = fdt_next_node(fdt, node, &depth)) {
        if (depth < 0) break;
        if (depth > max_depth) {
            skipped = true;
            continue;
        }
        int len = 0;
        const char* name = fdt_get_name(fdt, node, &len);
        const std::string own = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
        if (depth == 0) {
            ends.assign(1, 0);
            visit("/", own);
            continue;
        }
        // The parent is the last node visited at depth - 1.
        path.resize(ends[static_cast<std::size_t>(depth - 1)]);
        path += '/';
        path += shown_name(own);
        ends.resize(static_cast<std::size_t>(depth));
        ends.push_back(path.size());
        visit(path, own);
    }
    return skipped;
}


}  // namespace detail

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
    if (description_.empty()) report("/", "no description (U-Boot requires one)");
    const bool too_deep = detail::for_each_node(fdt(), max_checked_depth, [&](const std::string& path, const std::string& name) {
        if (name.find('@') != std::string::npos)
            report(path, "node name contains '@', which U-Boot refuses when checking signatures (CVE-2021-27138)");
    });
    if (too_deep)
        report("/", "nodes nested more than " + std::to_string(max_checked_depth) +
                        " levels deep, which no FIT needs (not checked)");
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
                    report(hash_subject,
                           "hash algo '" + detail::shown_name(h.algo) + "' is not one fitstream can check",
                           problem::severity::warning);
                    continue;
                }
                algorithms.push_back({h.algo, std::move(hasher), digest_size, {}});
                known = algorithms.end() - 1;
            }
            if (h.value.size() != known->digest_size) {
                report(hash_subject, "value is " + std::to_string(h.value.size()) + " bytes, " + h.algo + " needs " +
                                         std::to_string(known->digest_size));
                continue;
            }
            checks.emplace_back(&h, static_cast<std::size_t>(known - algorithms.begin()));
        }
        if (!checks.empty()) {
            read_stored(img, [&](const char* p, std::size_t n) {
                for (auto& a : algorithms) a.hasher->update(p, n);
            });
            for (auto& a : algorithms) {
                a.digest.resize(a.digest_size);
                a.hasher->final(a.digest.data());
            }
            for (const auto& [h, a] : checks) {
                const auto& digest = algorithms[a].digest;
                if (digest != h->value)
                    report(subject + "/" + detail::shown_name(h->node),
                           h->algo + " mismatch: stored " + detail::hex(h->value) + ", data gives " + detail::hex(digest));
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
                const int rc = detail::check_fdt(aligned.data(), decoded.size());
                if (rc < 0) report(subject, std::string("devicetree does not decode to a valid DTB: ") + fdt_strerror(rc));
            }
        } catch (const error& e) {
            report(subject, e.reason());
        }
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
