// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The read side: open a FIT, walk its images and configurations, find each
/// payload (embedded `data`, `data-offset` or `data-position`), stream it
/// stored or decoded, and verify the whole file.
///
/// The file is read with pread(2), never memory-mapped (a mapped file that
/// shrinks kills its reader with SIGBUS): the devicetree blocks (nodes,
/// strings, embedded data included) are read into memory once, but not the
/// padding up to the FDT header's totalsize (fitpack -B's gap), external data in pieces of at most 1 MiB as it is needed,
/// and a file that has become shorter since it was opened is an error, not
/// a signal. Payloads are decoded in fixed-size chunks. Nothing in the file is trusted: every offset and size
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
///
/// This header holds the data model and the reader's contract; the work is
/// in detail/read/: index.hpp (properties, payload places, the overlap
/// policy), decode.hpp (stored and decoded bytes), verify.hpp, and
/// node_path.hpp (the tree walk and how node names appear in messages).

#include <fitstream/detail/io/input_file.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
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
    /// The `cipher` subnode's algo when the image is encrypted (mkimage's
    /// cipher node, see sign/cipher.hpp; "?" when it has none), else empty:
    /// the stored bytes are then AES-CBC ciphertext, which only U-Boot
    /// with the key in its control DTB decrypts. Hashes cover them as stored.
    std::string cipher;
    std::string cipher_key_name;  ///< the cipher node's key-name-hint
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
    /// Decoding stops with an error past this many bytes per image, and
    /// past this many for all images together (the images after that are
    /// reported as not decoded), so many small bombs cost no more than one.
    std::uint64_t max_decoded_size = 1ull << 30;
    /// Decode every image (not only devicetrees) to prove its stream is whole.
    bool decode_all = true;
    /// verify() stops checking after this many problems and says so in one
    /// more; a hostile file can otherwise make the list as long as it likes.
    std::size_t max_problems = 1000;
    /// verify_signatures() hashes at most this many bytes for configuration
    /// signatures, all configurations together: each configuration hashes
    /// its regions (the structure of the nodes it covers, data excluded,
    /// plus `hashed-strings` bytes of strings), a few KB in a real FIT, but a
    /// hostile one can make every configuration cover a multi-MB strings
    /// block or description. The configurations past the budget are
    /// reported as not checked (an error where a key is required), each on
    /// one line, at most 10 and then how many more.
    std::uint64_t max_signature_bytes = 1ull << 30;
};

/// Node names nested deeper than this below the root are not checked by
/// verify() (a FIT needs 3: /images/kernel/hash-1); a tree that goes deeper
/// is reported instead.
inline constexpr int max_checked_depth = 64;

/// A FIT opened for reading. See the file comment.
class reader {
public:
    /// Opens `path`, reads its structure and indexes it.
    /// @throws fitstream::error naming `path`: the OS error when it cannot
    ///         be opened or read; errc::bad_image when it shrinks while the
    ///         structure is read; errc::bad_image when it is shorter than
    ///         an FDT header, has no devicetree magic or is shorter than the
    ///         header's totalsize; libfdt's error (FDT_ERR_BADVERSION for a
    ///         version before 16, else what fdt_check_full returns) when the
    ///         structure is not a valid devicetree. Everything else that can
    ///         be wrong is reported by verify(), not thrown.
    explicit reader(std::string path) : path_(std::move(path)), file_(path_) { index(); }

    /// Reads a FIT held in memory (copied, so `data` need not stay alive or
    /// be aligned); `name` stands for the file in messages.
    /// @throws fitstream::error as reader(std::string), naming `name`.
    reader(const void* data, std::size_t size, std::string name) : path_(std::move(name)), file_(data, size) {
        index();
    }

    /// The file's path (or the name given for a FIT in memory).
    const std::string& path() const noexcept { return path_; }
    /// The file's size in bytes: the structure and any external data.
    std::uint64_t file_size() const noexcept { return file_.size(); }
    /// The devicetree blocks as read into memory (8-byte aligned, embedded
    /// data included): up to the end of the last block, whose length the
    /// copy's header gives as its totalsize; the padding up to the file's
    /// totalsize (structure_size()) and external data are not in memory:
    /// read payloads with read_stored().
    const void* blob() const noexcept { return file_.data(); }
    /// The file's FDT header totalsize: the structure with embedded data and
    /// any padding (external data-offsets count from it, rounded up to 4).
    std::uint32_t structure_size() const noexcept { return file_.totalsize(); }
    /// The root's `description`; empty when absent.
    const std::string& description() const noexcept { return description_; }
    /// The root's `timestamp` (one or two cells); nullopt when absent.
    std::optional<std::uint32_t> timestamp() const noexcept { return timestamp_; }
    /// The nodes under /images, in file order.
    const std::vector<image_info>& images() const noexcept { return images_; }
    /// The nodes under /configurations, in file order.
    const std::vector<configuration_info>& configurations() const noexcept { return configurations_; }
    /// /configurations/default, or empty.
    const std::string& default_configuration() const noexcept { return default_; }

    /// The first image called `name` (the one U-Boot finds), or nullptr.
    const image_info* find_image(const std::string& name) const {
        const auto it = image_index_.find(name);
        return it == image_index_.end() ? nullptr : &images_[it->second];
    }

    /// Calls `sink(data, size)` with the image's stored bytes, in pieces of
    /// at most 1 MiB.
    /// @throws fitstream::error (errc::bad_image), naming the image node,
    ///         when it has no data or image_info::data_problem says its
    ///         bytes are unusable; naming the file, when it has become
    ///         shorter since it was opened ("file changed while being
    ///         read"); the OS error; whatever `sink` throws.
    void read_stored(const image_info& img, const std::function<void(const char*, std::size_t)>& sink) const;

    /// Calls `sink(data, size)` with the image's bytes decoded by its
    /// `compression`, in pieces of at most 1 MiB.
    /// @returns the number of decoded bytes.
    /// @throws fitstream::error: errc::unsupported, naming the compression,
    ///         for one fitstream does not know; naming the image node, the
    ///         codec's error on corrupt data, errc::limit_exceeded past
    ///         `max_decoded_size`, errc::bad_image when the stream is
    ///         truncated, or as
    ///         read_stored() when the stored bytes are unusable; whatever
    ///         `sink` throws.
    std::uint64_t read_decoded(const image_info& img, const std::function<void(const char*, std::size_t)>& sink,
                               std::uint64_t max_decoded_size = 1ull << 30) const;

    /// Checks everything U-Boot relies on and returns one entry per problem
    /// (empty when the FIT is sound): the structure, where each payload is
    /// (inside the file, one cell per external property, not overlapping
    /// the structure or another payload, not both embedded and external),
    /// every hash, every stream decoded whole and every fdt a valid DTB,
    /// string properties NUL-terminated, no '@', '/' or control character in
    /// node names, no two nodes of one name under one parent (two /images,
    /// two images or configurations of one name) and no two properties of
    /// one name in a node, every hash node with an algo U-Boot knows (a
    /// missing or unknown one fails the image there), no empty
    /// `compression`, every configuration reference and the default
    /// resolving, no name listed twice in one reference property. Names in
    /// problem subjects and messages have control characters escaped
    /// (\x0a) and are cut past 256 bytes.
    /// See verify_options for what it decodes and how many problems it lists.
    /// @throws fitstream::error only when memory runs out: what is wrong with
    ///         the file is a problem in the list, never an exception.
    std::vector<problem> verify(const verify_options& options = {}) const;

private:
    const void* fdt() const noexcept { return file_.data(); }

    void require_data(const image_info& img) const;
    // Calls `piece(data, size, last)` with the stored bytes in pieces of at
    // most 1 MiB (once with size 0 for an empty payload), external ones read
    // into one reused buffer (detail/read/decode.hpp).
    void for_each_stored_piece(const image_info& img,
                               const std::function<void(const char*, std::size_t, bool)>& piece) const;

    // String properties, reported against `subject` when not NUL-terminated
    // (detail/read/index.hpp).
    std::string get_string(int node, const char* name, const std::string& subject);
    std::vector<std::string> get_strings(int node, const char* name, const std::string& subject);

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
    detail::input_file file_;
    std::string description_;
    std::optional<std::uint32_t> timestamp_;
    std::vector<image_info> images_;
    std::unordered_map<std::string, std::size_t> image_index_;
    std::vector<configuration_info> configurations_;
    std::unordered_map<std::string, std::size_t> configuration_index_;
    std::string default_;
    std::vector<problem> index_problems_;
};

}  // namespace fitstream

// The reader's work, defined after the class it belongs to.
#include <fitstream/detail/read/index.hpp>
#include <fitstream/detail/read/decode.hpp>
#include <fitstream/detail/read/verify.hpp>
