// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The Codec concept: what a compression policy must provide.
///
/// A codec is a small struct, chosen at compile time, per image:
///
/// @code
/// struct my_codec {
///     // The FIT `compression` value; must be a name U-Boot decodes.
///     static constexpr std::string_view fit_name = "gzip";
///     // Tuning knobs; default-constructible, defaults are sensible.
///     struct options { int level = 6; };
///     // A Boost.Iostreams *SymmetricFilter* that compresses, so
///     // boost::iostreams::symmetric_filter<my_codec::encoder> adapts it.
///     class encoder {
///     public:
///         using char_type = char;
///         // source_size: the exact input size, or fitstream::unknown_size.
///         encoder(const options&, std::uint64_t source_size);
///         // Consumes [in, in_end), produces into [out, out_end) and advances
///         // both. With flush == false, returns true. With flush == true
///         // (no more input will come), returns true while output remains
///         // to be produced and false once the stream is complete.
///         bool filter(const char*& in, const char* in_end,
///                     char*& out, char* out_end, bool flush);
///         // Returns the encoder to its initial state.
///         void close();
///     };
/// };
/// @endcode
///
/// The bytes the encoder produces must be exactly the container U-Boot's
/// decoder for `fit_name` expects (see FIT-NOTES: a gzip member, not zlib;
/// LZMA_Alone, not xz; an LZ4 frame, not legacy; ...).
///
/// `static_assert(fitstream::is_codec_v<C>, ...)` is the one place the
/// concept is checked; `fitstream::check_codec<C>()` wraps it.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

namespace fitstream {

/// Passed as an encoder's `source_size` when the input size is not known.
inline constexpr std::uint64_t unknown_size = std::numeric_limits<std::uint64_t>::max();

namespace detail {

template <class, class = void>
struct has_fit_name : std::false_type {};
template <class C>
struct has_fit_name<C, std::enable_if_t<std::is_convertible_v<decltype(C::fit_name), std::string_view>>>
    : std::true_type {};

template <class, class = void>
struct is_symmetric_encoder : std::false_type {};
template <class E>
struct is_symmetric_encoder<
    E, std::enable_if_t<std::is_same_v<typename E::char_type, char> &&
                        std::is_same_v<decltype(std::declval<E&>().filter(
                                           std::declval<const char*&>(), std::declval<const char*>(),
                                           std::declval<char*&>(), std::declval<char*>(), true)),
                                       bool> &&
                        std::is_void_v<decltype(std::declval<E&>().close())>>> : std::true_type {};

template <class, class = void>
struct is_codec_impl : std::false_type {};
template <class C>
struct is_codec_impl<C, std::void_t<typename C::options, typename C::encoder>>
    : std::bool_constant<has_fit_name<C>::value &&
                         std::is_default_constructible_v<typename C::options> &&
                         std::is_constructible_v<typename C::encoder, const typename C::options&,
                                                 std::uint64_t> &&
                         is_symmetric_encoder<typename C::encoder>::value> {};

}  // namespace detail

/// True when `C` models the Codec concept described in this file.
template <class C>
inline constexpr bool is_codec_v = detail::is_codec_impl<C>::value;

/// Checks `C` against the Codec concept with one readable message.
template <class C>
constexpr bool check_codec() {
    static_assert(is_codec_v<C>,
                  "fitstream: C is not a codec: it needs `static constexpr std::string_view fit_name`, "
                  "a default-constructible `options`, and an `encoder` constructible from "
                  "(const options&, std::uint64_t) with Boost.Iostreams SymmetricFilter members "
                  "`char_type`, `bool filter(const char*&, const char*, char*&, char*, bool)` and "
                  "`void close()` (see <fitstream/codec.hpp>)");
    return true;
}

/// Names a codec type as a value, for the runtime-name dispatch in
/// <fitstream/codecs.hpp>: `visit_codec("gzip", [](auto tag) { using C =
/// typename decltype(tag)::type; ... })`.
template <class C>
struct codec_tag {
    using type = C;
};

namespace detail {

/// Runs `encoder` over [data, data + size) in one call sequence, with `emit`
/// receiving each produced block; `last` says no more input follows.
/// Used by the writer's pump and by tests.
template <class Encoder, class Emit>
void run_encoder(Encoder& encoder, const char* data, std::size_t size, bool last, char* scratch,
                 std::size_t scratch_size, Emit&& emit) {
    const char* in = data;
    const char* const in_end = data + size;
    for (;;) {
        char* out = scratch;
        const bool more = encoder.filter(in, in_end, out, scratch + scratch_size, last);
        if (out != scratch) emit(scratch, static_cast<std::size_t>(out - scratch));
        if (last) {
            if (!more) return;
        } else if (in == in_end) {
            return;
        }
    }
}

}  // namespace detail
}  // namespace fitstream
