// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The Hash concept: what a hash policy must provide.
///
/// @code
/// struct my_hash {
///     static constexpr std::string_view fit_name = "sha256";  // FIT `algo` value
///     static constexpr std::size_t digest_size = 32;          // bytes of `value`
///     my_hash();                                               // ready to update
///     void update(const void* data, std::size_t size);
///     std::array<std::uint8_t, digest_size> final();           // the `value` bytes
/// };
/// @endcode
///
/// The digest size is a compile-time constant because the writer lays out
/// the FIT structure, hash `value` properties included, before the payload
/// bytes (and so the digest) exist. A hash covers an image's stored bytes,
/// i.e. after compression, which is what U-Boot recomputes. `value` holds
/// the digest as U-Boot compares it: CRC-32 as a big-endian u32.

#include <boost/mp11/utility.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

namespace fitstream {
namespace detail {

template <class, class = void>
struct is_hash_impl : std::false_type {};
template <class H>
struct is_hash_impl<H, std::void_t<decltype(H::fit_name), decltype(H::digest_size),
                                   decltype(std::declval<H&>().update(std::declval<const void*>(),
                                                                      std::size_t{})),
                                   decltype(std::declval<H&>().final())>>
    : std::bool_constant<std::is_convertible_v<decltype(H::fit_name), std::string_view> &&
                         std::is_default_constructible_v<H> &&
                         std::is_same_v<decltype(std::declval<H&>().final()),
                                        std::array<std::uint8_t, H::digest_size>>> {};

}  // namespace detail

/// True when `H` models the Hash concept described in this file.
template <class H>
inline constexpr bool is_hash_v = detail::is_hash_impl<H>::value;

/// Checks `H` against the Hash concept with one readable message.
/// @returns true (so it can sit in a `static_assert`); an `H` that is not a
///          hash does not compile.
template <class H>
constexpr bool check_hash() {
    static_assert(is_hash_v<H>,
                  "fitstream: H is not a hash: it needs `static constexpr std::string_view fit_name`, "
                  "`static constexpr std::size_t digest_size`, a default constructor, "
                  "`void update(const void*, std::size_t)` and "
                  "`std::array<std::uint8_t, digest_size> final()` (see <fitstream/hash/concept.hpp>)");
    return true;
}

/// Names a hash type as a value, for the runtime-name dispatch in
/// <fitstream/hash/builtin.hpp>: `visit_hash("sha256", [](auto tag) { using H =
/// typename decltype(tag)::type; ... })`. Boost.Mp11's mp_identity.
template <class H>
using hash_tag = boost::mp11::mp_identity<H>;

}  // namespace fitstream
