// SPDX-License-Identifier: MIT
#pragma once

// A set of strings kept elsewhere, holding only their indices.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace fitstream {
namespace detail {

// The strings (report paths, image sources) already live in a vector:
// with 100,000 DTBs a copy of every path per lookup table would cost
// several MiB each. `Get(i)` returns string i; find() looks a string up
// without storing it.
template <class Get>
class string_index {
public:
    explicit string_index(Get get) : get_(std::move(get)), set_(0, hasher{this}, equal{this}) {}
    string_index(const string_index&) = delete;
    string_index& operator=(const string_index&) = delete;

    // The index of a string equal to `key`, or npos.
    std::size_t find(std::string_view key) const {
        probe_ = key;
        const auto it = set_.find(probe);
        return it == set_.end() ? npos : *it;
    }
    // Adds string `i`; false when an equal string is already in.
    bool insert(std::size_t i) { return set_.insert(i).second; }
    void reserve(std::size_t n) { set_.reserve(n); }

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

private:
    static constexpr std::size_t probe = npos;  // stands for probe_ inside the set's functors
    std::string_view at(std::size_t i) const { return i == probe ? probe_ : std::string_view(get_(i)); }
    struct hasher {
        const string_index* self;
        std::size_t operator()(std::size_t i) const { return std::hash<std::string_view>()(self->at(i)); }
    };
    struct equal {
        const string_index* self;
        bool operator()(std::size_t a, std::size_t b) const { return self->at(a) == self->at(b); }
    };

    Get get_;
    mutable std::string_view probe_;
    std::unordered_set<std::size_t, hasher, equal> set_;
};

}  // namespace detail
}  // namespace fitstream
