// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `none`: stores the bytes as they are.

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>

namespace fitstream {
namespace codec {

/// The identity codec: FIT `compression = "none"`.
struct none {
    static constexpr std::string_view fit_name = "none";
    struct options {};

    /// Copies the bytes; never throws.
    class encoder : public detail::engine_filter<detail::copy_engine> {
    public:
        encoder(const options&, std::uint64_t /*source_size*/) {}
    };

    /// Copies the bytes back out; there is nothing to be corrupt.
    using decoder = detail::engine_filter<detail::copy_engine>;
};

static_assert(check_decodable_codec<none>());

}  // namespace codec
}  // namespace fitstream
