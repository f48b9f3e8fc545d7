// SPDX-License-Identifier: MIT
#pragma once

// Indices looked up by a 64-bit hash of something kept elsewhere (a path
// in a plan's records, a file's content): 12 bytes a slot, at most half
// full, and no copy of the keys. A match of the hash is confirmed by the caller (the records hold
// the key), so a collision never merges two keys.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace fitstream {
namespace detail {

class hashed_index {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    /// The first index added with `hash` for which `matches(index)`, or npos.
    template <class Matches>
    std::size_t find(std::uint64_t hash, Matches&& matches) const {
        if (slots_.empty()) return npos;
        const auto tag = static_cast<std::uint32_t>(hash >> 32);
        const auto low = static_cast<std::uint32_t>(hash);
        for (std::size_t at = hash & mask(); slots_[at].index != empty; at = (at + 1) & mask())
            if (slots_[at].tag == tag && slots_[at].low == low && matches(slots_[at].index)) return slots_[at].index;
        return npos;
    }

    void insert(std::size_t index, std::uint64_t hash) {
        if (index >= empty) throw std::length_error("fitstream: too many entries for an index");
        if ((count_ + 1) * 2 > slots_.size()) grow();
        put({static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(hash >> 32)}, hash);
        ++count_;
    }

private:
    static constexpr std::uint32_t empty = UINT32_MAX;
    struct slot {
        std::uint32_t index = empty;
        std::uint32_t tag = 0;   // the hash's high half
        std::uint32_t low = 0;   // the hash's low half: where it goes when the table grows
    };
    std::size_t mask() const noexcept { return slots_.size() - 1; }
    void put(slot s, std::uint64_t hash) {
        s.low = static_cast<std::uint32_t>(hash);
        std::size_t at = hash & mask();
        while (slots_[at].index != empty) at = (at + 1) & mask();
        slots_[at] = s;
    }
    void grow() {
        std::vector<slot> old(slots_.empty() ? 64 : slots_.size() * 2);
        old.swap(slots_);
        for (const slot& s : old)
            if (s.index != empty) put(s, (std::uint64_t(s.tag) << 32) | s.low);
    }

    std::vector<slot> slots_;
    std::size_t count_ = 0;
};

}  // namespace detail
}  // namespace fitstream
