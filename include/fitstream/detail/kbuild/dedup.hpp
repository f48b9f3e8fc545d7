// SPDX-License-Identifier: MIT
#pragma once

// Identical payloads stored once: files are matched by SHA-256 and then
// compared byte for byte, so a hash collision can never merge two
// different files.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/hash/sha.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace fitstream {
namespace detail {

using digest = std::array<std::uint8_t, hash::sha256::digest_size>;

inline digest digest_of(const void* data, std::size_t size) {
    hash::sha256 h;
    h.update(data, size);
    return h.final();
}

// A loadable may be large: it is hashed in chunks, not read whole.
inline digest digest_of_file(const std::string& path) {
    hash::sha256 h;
    auto fd = open_for_reading(path);
    std::vector<char> buffer(1u << 20);
    for (;;) {
        const std::size_t n = read_up_to(fd.get(), buffer.data(), buffer.size(), path);
        h.update(buffer.data(), n);
        if (n < buffer.size()) break;
    }
    return h.final();
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

// Devicetree images by content. The table holds image indices keyed by
// the digest's first 64 bits (with 100,000 DTBs, whole digests and paths
// per entry would cost MiB); candidates are then compared byte for byte.
class fdt_dedup {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    void reserve(std::size_t n) { by_prefix_.reserve(n); }

    // The image already holding `path`'s bytes, or npos. `stored_path(i)`
    // is the file image i is made from.
    template <class StoredPath>
    std::size_t find(const digest& d, const std::string& path, const StoredPath& stored_path) const {
        const auto [begin, end] = by_prefix_.equal_range(prefix(d));
        for (auto it = begin; it != end; ++it)
            if (same_file_contents(stored_path(it->second), path)) return it->second;
        return npos;
    }
    void add(const digest& d, std::size_t image) { by_prefix_.emplace(prefix(d), image); }

    // A file found to duplicate an image: listed again, it maps to the
    // image without being compared again.
    std::size_t alias_of(const std::string& path) const {
        const auto it = aliases_.find(path);
        return it == aliases_.end() ? npos : it->second;
    }
    void add_alias(const std::string& path, std::size_t image) { aliases_.emplace(path, image); }

private:
    static std::uint64_t prefix(const digest& d) {
        std::uint64_t p = 0;
        std::memcpy(&p, d.data(), sizeof p);
        return p;
    }

    std::unordered_multimap<std::uint64_t, std::size_t> by_prefix_;
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
    std::string find(const digest& d, const std::string& path, const std::string& kind) const {
        const auto it = by_key_.find(key_of(d, kind));
        if (it == by_key_.end()) return {};
        for (const auto& candidate : it->second)
            if (same_file_contents(candidate.path, path)) return candidate.image;
        return {};
    }
    void add(const digest& d, const std::string& kind, std::string path, std::string image) {
        by_key_[key_of(d, kind)].push_back({std::move(path), std::move(image)});
    }

private:
    struct stored {
        std::string path;
        std::string image;
    };
    static std::string key_of(const digest& d, const std::string& kind) {
        return std::string(reinterpret_cast<const char*>(d.data()), d.size()) + kind;
    }

    std::unordered_map<std::string, std::vector<stored>> by_key_;
};

}  // namespace detail
}  // namespace fitstream
