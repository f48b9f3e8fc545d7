// SPDX-License-Identifier: MIT
#pragma once

// Node names by index, and the index of a name: the one per-node string a
// fit_plan keeps in memory (configurations refer to images by name, and
// names must be unique). Each name costs its bytes, a 4-byte offset and a
// slot of an open-addressing table of indices (at most half full): about
// 25 bytes for "fdt-123456", against some 100 for a std::string in a
// std::unordered_map.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fitstream {
namespace detail {

class name_table {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    std::size_t size() const noexcept { return ends_.size(); }

    std::string_view operator[](std::size_t i) const noexcept {
        const std::uint32_t begin = i == 0 ? 0 : ends_[i - 1];
        return std::string_view(bytes_).substr(begin, ends_[i] - begin);
    }

    /// The index of `name`, or npos.
    std::size_t find(std::string_view name) const noexcept {
        if (slots_.empty()) return npos;
        for (std::size_t at = hash(name) & mask(); slots_[at] != empty; at = (at + 1) & mask())
            if ((*this)[slots_[at]] == name) return slots_[at];
        return npos;
    }

    /// Adds `name` as index size(); false (and nothing added) when it is
    /// already in.
    bool insert(std::string_view name) {
        if (find(name) != npos) return false;
        if (bytes_.size() + name.size() > UINT32_MAX || size() >= UINT32_MAX / 2)
            throw std::length_error("fitstream: more node names than a plan can hold");
        bytes_.append(name.data(), name.size());
        ends_.push_back(static_cast<std::uint32_t>(bytes_.size()));
        if ((size() + 1) * 2 > slots_.size()) grow();
        else place(static_cast<std::uint32_t>(size() - 1));
        return true;
    }

private:
    static constexpr std::uint32_t empty = UINT32_MAX;
    static std::size_t hash(std::string_view s) noexcept { return std::hash<std::string_view>{}(s); }
    std::size_t mask() const noexcept { return slots_.size() - 1; }

    void place(std::uint32_t index) {
        std::size_t at = hash((*this)[index]) & mask();
        while (slots_[at] != empty) at = (at + 1) & mask();
        slots_[at] = index;
    }
    void grow() {
        slots_.assign(slots_.empty() ? 64 : slots_.size() * 2, empty);
        for (std::uint32_t i = 0; i < size(); ++i) place(i);
    }

    std::string bytes_;                // every name, one after the other
    std::vector<std::uint32_t> ends_;  // where name i ends in bytes_
    std::vector<std::uint32_t> slots_;  // indices, by hash; a power of two long
};

}  // namespace detail
}  // namespace fitstream
