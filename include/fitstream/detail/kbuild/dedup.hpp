// SPDX-License-Identifier: MIT
#pragma once

// Identical payloads stored once: files are bucketed by a cheap content key
// (their size and CRC-32) and then compared byte for byte, so a key that
// two different files share can never merge them. The key only has to
// make false candidates rare: a CRC-32 (libdeflate's, carry-less multiply)
// costs a fraction of the SHA-256 it replaces, and the DTBs are keyed
// whether or not any is a duplicate (docs/bench/stages.md).

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/libdeflate.hpp>
#include <fitstream/detail/plan/hashed_index.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace fitstream {
namespace detail {

// The size in the high 32 bits, the CRC-32 in the low ones: files of
// different sizes below 4 GiB never share a key.
using content_key = std::uint64_t;

inline content_key make_content_key(std::uint64_t size, std::uint32_t crc) { return (size << 32) ^ crc; }

inline content_key content_key_of(const void* data, std::size_t size) {
    return make_content_key(size, deflate_crc32(0, data, size));
}

// A loadable may be large: it is keyed in chunks, not read whole.
inline content_key content_key_of_file(const std::string& path) {
    auto fd = open_for_reading(path);
    std::vector<char> buffer(1u << 20);
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    for (;;) {
        const std::size_t n = read_up_to(fd.get(), buffer.data(), buffer.size(), path);
        crc = deflate_crc32(crc, buffer.data(), n);
        size += n;
        if (n < buffer.size()) break;
    }
    return make_content_key(size, crc);
}

// True when two files hold the same bytes (compared, not hashed).
inline bool same_file_contents(const std::string& a, const std::string& b) {
    auto fa = open_for_reading(a);
    auto fb = open_for_reading(b);
    if (file_size(fa.get(), a) != file_size(fb.get(), b)) return false;
    std::vector<char> ba(1u << 16), bb(1u << 16);
    for (;;) {
        const std::size_t na = read_up_to(fa.get(), ba.data(), ba.size(), a);
        const std::size_t nb = read_up_to(fb.get(), bb.data(), bb.size(), b);
        if (na != nb || std::memcmp(ba.data(), bb.data(), na) != 0) return false;
        if (na < ba.size()) return true;
    }
}

// Devicetree images by content. The table holds image indices by content
// key (with 100,000 DTBs, paths per entry would cost MiB); candidates are
// then compared byte for byte.
class fdt_dedup {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    // The image already holding `path`'s bytes (or made from `path`
    // itself), or npos. `stored_path(i)` is the file image i is made from.
    template <class StoredPath>
    std::size_t find(content_key key, const std::string& path, const StoredPath& stored_path) const {
        return by_key_.find(key,
                            [&](std::size_t i) {
                                const std::string stored = stored_path(i);
                                return stored == path || same_file_contents(stored, path);
                            });
    }
    void add(content_key key, std::size_t image) { by_key_.insert(image, key); }

    // A file found to duplicate an image: listed again, it maps to the
    // image without being compared again.
    std::size_t alias_of(const std::string& path) const {
        const auto it = aliases_.find(path);
        return it == aliases_.end() ? npos : it->second;
    }
    void add_alias(const std::string& path, std::size_t image) { aliases_.emplace(path, image); }

private:
    hashed_index by_key_;  // 24 bytes an image: with a million DTBs, a multimap's nodes would be 50 MiB
    std::unordered_map<std::string, std::size_t> aliases_;
};

// Loadables by content and `kind`: only images that would be written
// identically (type, arch, addresses, codec, ...) may be merged, so the
// caller folds all of that into `kind`. There are few loadables: the
// table keeps whole keys and paths.
class loadable_dedup {
public:
    // The image name of a loadable already holding `path`'s bytes with the
    // same `kind`, or empty.
    std::string find(content_key key, const std::string& path, const std::string& kind) const {
        const auto it = by_key_.find(key_of(key, kind));
        if (it == by_key_.end()) return {};
        for (const auto& candidate : it->second)
            if (same_file_contents(candidate.path, path)) return candidate.image;
        return {};
    }
    void add(content_key key, const std::string& kind, std::string path, std::string image) {
        by_key_[key_of(key, kind)].push_back({std::move(path), std::move(image)});
    }

private:
    struct stored {
        std::string path;
        std::string image;
    };
    static std::string key_of(content_key key, const std::string& kind) {
        return std::string(reinterpret_cast<const char*>(&key), sizeof key) + kind;
    }

    std::unordered_map<std::string, std::vector<stored>> by_key_;
};

}  // namespace detail
}  // namespace fitstream
