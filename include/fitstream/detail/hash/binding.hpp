// SPDX-License-Identifier: MIT
#pragma once

// A hash policy behind a virtual call: what an image's hash nodes and the
// reader's checks hold.

#include <fitstream/hash/concept.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace fitstream {
namespace detail {

/// A hash behind a virtual call.
struct hasher_interface {
    virtual ~hasher_interface() = default;
    virtual void update(const void* data, std::size_t size) = 0;
    /// Writes digest_size bytes to `out`.
    virtual void final(std::uint8_t* out) = 0;
};

template <class Hash>
class hasher_model final : public hasher_interface {
public:
    void update(const void* data, std::size_t size) override { hash_.update(data, size); }
    void final(std::uint8_t* out) override {
        const auto digest = hash_.final();
        std::copy(digest.begin(), digest.end(), out);
    }

private:
    Hash hash_;
};

/// One hash an image carries: its FIT algo, digest size, and a factory.
struct hash_binding {
    std::string_view fit_name;
    std::size_t digest_size;
    std::unique_ptr<hasher_interface> (*make)();
};

template <class Hash>
std::unique_ptr<hasher_interface> make_hasher() {
    return std::make_unique<hasher_model<Hash>>();
}

}  // namespace detail
}  // namespace fitstream
